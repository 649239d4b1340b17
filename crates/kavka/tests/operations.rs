//! Operating a broker: JSON log lines for admin changes, `kavka features`, and
//! shell completions.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestBroker;

fn kavka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kavka")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A broker started with `--log-format json`, its stderr in `log`; killed on drop.
struct JsonLoggingBroker {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl JsonLoggingBroker {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = common::free_port();
        let log = dir.path().join("broker.log");
        let child = Command::new(env!("CARGO_BIN_EXE_kavka"))
            .args(["broker", "--log-format", "json"])
            .arg("--override")
            .arg(format!("listeners=PLAINTEXT://127.0.0.1:{port}"))
            .arg("--override")
            .arg(format!("log.dirs={}", dir.path().join("data").display()))
            .args(["--override", "http.listeners="])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn kavka");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "broker did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    /// Every log line, each parsed as JSON (a line that is not JSON fails the test).
    fn lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

impl Drop for JsonLoggingBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_log_names_who_created_a_topic() {
    let broker = JsonLoggingBroker::start();
    let bootstrap = format!("127.0.0.1:{}", broker.port);
    common::create_topic(&bootstrap, "audited-orders", 3).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let found = broker.lines().into_iter().find(|l| {
            l["target"] == "kavka::admin"
                && l["fields"]["message"] == "topic created"
                && l["fields"]["resource"] == "audited-orders"
        });
        if let Some(line) = found {
            break line;
        }
        assert!(
            Instant::now() < deadline,
            "no admin line: {:?}",
            broker.lines()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["principal"], "User:ANONYMOUS");
    assert_eq!(line["fields"]["outcome"], "applied");
    assert!(
        line["fields"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("partitions=3")),
        "{line}"
    );
    let peer = line["fields"]["peer"].as_str().unwrap_or_default();
    assert!(peer.starts_with("127.0.0.1:"), "peer {peer:?}");
    assert!(line["timestamp"].is_string(), "{line}");
}

#[test]
fn features_describe_reports_kavkas_levels() {
    let broker = TestBroker::start();
    let out = kavka(&[
        "features",
        "--bootstrap-server",
        &broker.bootstrap(),
        "describe",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let metadata = stdout
        .lines()
        .find(|l| l.starts_with("Feature: metadata.version "))
        .unwrap_or_else(|| panic!("no metadata.version line:\n{stdout}"));
    assert!(
        metadata.contains("SupportedMaxVersion: 4.4-IV2 ")
            && metadata.contains("FinalizedVersionLevel: 4.4-IV2 "),
        "{metadata}"
    );
    let group = stdout
        .lines()
        .find(|l| l.starts_with("Feature: group.version "))
        .unwrap_or_else(|| panic!("no group.version line:\n{stdout}"));
    assert!(group.contains("FinalizedVersionLevel: 1 "), "{group}");
    // Features Kavka lacks are listed as supported only at level 0.
    let share = stdout
        .lines()
        .find(|l| l.starts_with("Feature: share.version "))
        .unwrap_or_else(|| panic!("no share.version line:\n{stdout}"));
    assert!(share.contains("SupportedMaxVersion: 0 "), "{share}");
}

#[test]
fn features_upgrade_beyond_kavkas_level_is_refused_with_kafkas_error() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let out = kavka(&[
        "features",
        "--bootstrap-server",
        &b,
        "upgrade",
        "--feature",
        "group.version=2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "Could not upgrade group.version to 2. The update failed for all features since \
         the following feature had an error: Invalid update version 2 for feature \
         group.version. Local controller 1 only supports versions 1-1\n"
    );
    assert_eq!(text(&out.stderr), "1 out of 1 operation(s) failed.\n");

    let same = kavka(&[
        "features",
        "--bootstrap-server",
        &b,
        "upgrade",
        "--feature",
        "group.version=1",
        "--dry-run",
    ]);
    assert!(same.status.success(), "{}", text(&same.stdout));
    assert_eq!(text(&same.stdout), "group.version can be upgraded to 1.\n");

    let disable = kavka(&[
        "features",
        "--bootstrap-server",
        &b,
        "disable",
        "--feature",
        "transaction.version",
    ]);
    assert_eq!(disable.status.code(), Some(1));
    assert!(text(&disable.stdout).starts_with("Could not disable transaction.version."));
}

#[test]
fn completions_for_bash_name_the_subcommands() {
    let out = kavka(&["completions", "bash"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    assert!(
        script.contains("complete -F _kavka"),
        "not a bash completion script"
    );
    for word in [
        "broker",
        "topics",
        "features",
        "storage",
        "--bootstrap-server",
    ] {
        assert!(script.contains(word), "{word} missing from the script");
    }
    let bad = kavka(&["completions", "tcsh"]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("tcsh"));
}
