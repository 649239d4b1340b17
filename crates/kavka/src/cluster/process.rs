//! Node processes: starting one in the background, telling whether a recorded PID
//! is still *our* node (PIDs are reused), signalling it, and waiting until it
//! answers Kafka requests or has exited.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use super::state::NodeState;
use super::ClusterError;

/// What a recorded node process is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeStatus {
    Running,
    /// Stopped by SIGSTOP (`kavka cluster pause`).
    Paused,
    /// No process, a zombie, or a PID now used by some other program.
    Stopped,
}

impl NodeStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
        }
    }
}

/// The status of `node`'s recorded PID. A PID counts only if its command line
/// is `kavka... broker --config <this node's config>`, so a PID the kernel handed to
/// another program after our node died is reported stopped and never signalled.
pub(crate) fn status(node: &NodeState) -> NodeStatus {
    let Some(pid) = node.pid else {
        return NodeStatus::Stopped;
    };
    if !is_our_node(pid, &node.config) {
        return NodeStatus::Stopped;
    }
    match proc_state(pid) {
        Some('T') | Some('t') => NodeStatus::Paused,
        Some('Z') | Some('X') | None => NodeStatus::Stopped,
        Some(_) => NodeStatus::Running,
    }
}

fn is_our_node(pid: u32, config: &Path) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
    let config = config.as_os_str().as_encoded_bytes();
    // The program name, not /proc/PID/exe: a rebuilt binary shows as "(deleted)"
    // there, and the node it started must still be stoppable.
    let program = args
        .first()
        .map(|a| a.rsplit(|b| *b == b'/').next().unwrap_or(a))
        .unwrap_or_default();
    program.starts_with(b"kavka") && args.contains(&b"broker".as_slice()) && args.contains(&config)
}

/// The one-letter state in `/proc/PID/stat` (after the parenthesised name, which
/// may itself contain spaces and parentheses).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.trim_start().chars().next()
}

/// Signals that `kavka cluster` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeSignal {
    Term,
    Kill,
    Stop,
    Cont,
}

impl NodeSignal {
    fn raw(self) -> Signal {
        match self {
            Self::Term => Signal::TERM,
            Self::Kill => Signal::KILL,
            Self::Stop => Signal::STOP,
            Self::Cont => Signal::CONT,
        }
    }
}

/// Sends `signal` to `node`, only if its recorded PID is still our node.
/// Returns whether a signal was sent.
pub(crate) fn signal(node: &NodeState, signal: NodeSignal) -> Result<bool, ClusterError> {
    let Some(pid) = node.pid else {
        return Ok(false);
    };
    if status(node) == NodeStatus::Stopped {
        return Ok(false);
    }
    let raw = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(ClusterError::BadPid(pid))?;
    match kill_process(raw, signal.raw()) {
        Ok(()) => Ok(true),
        // It died between the check and the signal: nothing left to signal.
        Err(e) if e == rustix::io::Errno::SRCH => Ok(false),
        Err(e) => Err(ClusterError::Io(
            format!("signalling node {} (pid {pid})", node.id),
            e.into(),
        )),
    }
}

/// Waits until `node` is no longer running; `false` if `timeout` passed first.
pub(crate) fn wait_stopped(node: &NodeState, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if status(node) == NodeStatus::Stopped {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Starts `kavka broker --config <node config>` in its own process group (so a
/// Ctrl-C in the terminal that ran `up` does not reach it), output appended to
/// the node's log.
pub(crate) fn spawn(binary: &Path, node: &NodeState) -> Result<Child, ClusterError> {
    let io_err = |what: &str, e| ClusterError::Io(format!("{what} for node {}", node.id), e);
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&node.log)
        .map_err(|e| io_err("opening the log", e))?;
    let _ = writeln!(log, "--- kavka cluster: starting node {} ---", node.id);
    let err = log.try_clone().map_err(|e| io_err("opening the log", e))?;
    let mut cmd = Command::new(binary);
    without_kafka_env(&mut cmd);
    cmd.arg("broker")
        .arg("--config")
        .arg(&node.config)
        // An error at start then ends the log in one readable line, not a backtrace.
        .env("RUST_LIB_BACKTRACE", "0")
        // broker.log is read by people and shown in errors: no colour codes.
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| io_err("starting the broker", e))
}

/// Removes the variables a broker reads (`KAFKA_*` as properties, `CLUSTER_ID`;
/// the container images' conventions): one left in a developer's shell would
/// silently override every node's `server.properties`.
pub(crate) fn without_kafka_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if kavka_broker::config::is_broker_env_var(&key.to_string_lossy()) {
            cmd.env_remove(key);
        }
    }
}

/// Waits until `node` answers an ApiVersions request on its client port, the
/// process exits (an error with the end of its log), or `timeout` passes.
pub(crate) fn wait_ready(
    node: &NodeState,
    child: &mut Child,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], node.client_port));
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(ClusterError::NodeExited {
                id: node.id,
                status: status.to_string(),
                log: node.log.clone(),
                tail: log_tail(&node.log, LOG_TAIL_LINES),
            });
        }
        if api_versions(addr).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ClusterError::NotReady {
                id: node.id,
                addr,
                secs: timeout.as_secs(),
                log: node.log.clone(),
                tail: log_tail(&node.log, LOG_TAIL_LINES),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `node`'s Metadata lists `expected` brokers: every node registered
/// and unfenced in the metadata this node has applied. Until then a client's
/// CreateTopics with the full replication factor could be refused by this node.
pub(crate) fn wait_all_registered(
    node: &NodeState,
    expected: usize,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], node.client_port));
    let deadline = Instant::now() + timeout;
    loop {
        let seen = metadata_brokers(addr).unwrap_or(0);
        if seen >= expected {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ClusterError::NotAllRegistered {
                id: node.id,
                seen,
                expected,
                secs: timeout.as_secs(),
                log: node.log.clone(),
                tail: log_tail(&node.log, LOG_TAIL_LINES),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const LOG_TAIL_LINES: usize = 15;

/// The last `n` lines of a node's log (empty if it cannot be read).
pub(crate) fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The number of brokers a Metadata v1 request (no topics) lists.
pub(crate) fn metadata_brokers(addr: SocketAddr) -> std::io::Result<usize> {
    const METADATA: i16 = 3;
    const CORRELATION_ID: i32 = 0x4b41_564d;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let timeout = Duration::from_secs(1);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let client_id = b"kavka-cluster";
    let mut body = Vec::with_capacity(32);
    body.extend_from_slice(&METADATA.to_be_bytes());
    body.extend_from_slice(&1i16.to_be_bytes());
    body.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    body.extend_from_slice(&0i32.to_be_bytes()); // an empty topic list: brokers only
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame)?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = usize::try_from(i32::from_be_bytes(size)).map_err(|_| bad("negative size"))?;
    if size > 1 << 20 {
        return Err(bad("Metadata answer too large"));
    }
    let mut answer = vec![0u8; size];
    stream.read_exact(&mut answer)?;
    // correlation id, then the brokers array's length.
    let head = answer
        .get(..8)
        .ok_or_else(|| bad("short Metadata answer"))?;
    if i32::from_be_bytes([head[0], head[1], head[2], head[3]]) != CORRELATION_ID {
        return Err(bad("answer to another request"));
    }
    let brokers = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    usize::try_from(brokers).map_err(|_| bad("negative broker count"))
}

/// One ApiVersions v0 round trip: proves the node parses Kafka requests, not just
/// that something accepts TCP connections on its port.
pub(crate) fn api_versions(addr: SocketAddr) -> std::io::Result<()> {
    const API_VERSIONS: i16 = 18;
    const CORRELATION_ID: i32 = 0x4b41_564b;
    let timeout = Duration::from_secs(1);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let client_id = b"kavka-cluster";
    let mut body = Vec::with_capacity(32);
    body.extend_from_slice(&API_VERSIONS.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes()); // version 0: no tagged fields
    body.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame)?;
    // Size, correlation id and error code are all we check.
    let mut head = [0u8; 10];
    stream.read_exact(&mut head)?;
    let correlation = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let error_code = i16::from_be_bytes([head[8], head[9]]);
    if correlation != CORRELATION_ID || error_code != 0 {
        return Err(std::io::Error::other(format!(
            "ApiVersions answered correlation id {correlation}, error code {error_code}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn node(pid: Option<u32>, config: &str) -> NodeState {
        NodeState {
            id: 1,
            pid,
            client_port: 1,
            controller_port: 2,
            config: PathBuf::from(config),
            log: PathBuf::from("/nonexistent"),
        }
    }

    #[test]
    fn a_pid_running_another_program_is_stopped_and_never_signalled() {
        // This test process is alive but is not `kavka broker --config ...`.
        let me = node(Some(std::process::id()), "/x/node-1/server.properties");
        // Nor is a program with the right arguments but another name.
        let config = "/tmp/kavka-cluster-test-other/server.properties";
        let mut other = Command::new("sh")
            .args(["-c", "sleep 5; true", "broker", "--config", config])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let impostor = node(Some(other.id()), config);
        assert_eq!(status(&impostor), NodeStatus::Stopped);
        assert!(!signal(&impostor, NodeSignal::Kill).unwrap());
        other.kill().unwrap();
        other.wait().unwrap();
        assert_eq!(status(&me), NodeStatus::Stopped);
        assert!(!signal(&me, NodeSignal::Kill).unwrap());
        assert_eq!(status(&node(None, "/x")), NodeStatus::Stopped);
    }

    #[test]
    fn a_recorded_node_is_recognised_by_its_command_line_and_state() {
        // A shell named `kavka` whose command line carries a node's arguments;
        // `; true` keeps it from exec'ing sleep (which would change the command line).
        let config = "/tmp/kavka-cluster-test-node/server.properties";
        let mut child = Command::new("sh")
            .arg0("kavka")
            .args(["-c", "sleep 5; true", "broker", "--config", config])
            .spawn()
            .unwrap();
        let n = node(Some(child.id()), config);
        // Until the fork has exec'd the shell, the command line is still ours.
        for _ in 0..100 {
            if status(&n) == NodeStatus::Running {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(status(&n), NodeStatus::Running);
        assert!(signal(&n, NodeSignal::Stop).unwrap());
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(status(&n), NodeStatus::Paused);
        assert!(signal(&n, NodeSignal::Cont).unwrap());
        assert!(signal(&n, NodeSignal::Kill).unwrap());
        child.wait().unwrap();
        assert_eq!(status(&n), NodeStatus::Stopped);
        assert!(!signal(&n, NodeSignal::Kill).unwrap());
    }

    #[test]
    fn api_versions_fails_on_a_port_nobody_listens_on() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        assert!(api_versions(addr).is_err());
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, "a\nb\nc\nd\n").unwrap();
        assert_eq!(log_tail(&p, 2), "c\nd");
        assert_eq!(log_tail(&dir.path().join("none"), 2), "");
    }
}
