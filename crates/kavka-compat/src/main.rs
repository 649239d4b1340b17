//! `kavka-diff`: runs the same raw Kafka requests against two brokers (Kavka and the
//! reference Apache Kafka) and compares the answers field by field, where Kafka's
//! behaviour is the contract. Prints the differences as a table and exits non-zero
//! when one is not listed in the allowed-differences file.

mod proto;
mod scenarios;
mod txn;
mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;

use scenarios::{Ctx, Obs};

#[derive(Parser)]
#[command(
    name = "kavka-diff",
    about = "Differential checks: Kavka vs Apache Kafka"
)]
struct Args {
    /// Bootstrap address of the broker under test (Kavka).
    #[arg(long = "a", value_name = "H:P")]
    a: String,
    /// Bootstrap address of the reference broker (Apache Kafka).
    #[arg(long = "b", value_name = "H:P")]
    b: String,
    #[arg(long, default_value = "Kavka")]
    a_name: String,
    #[arg(long, default_value = "Kafka")]
    b_name: String,
    /// Allowed differences: `scenario | field | reason` per line (`*` matches anything).
    #[arg(long)]
    allowed: Option<PathBuf>,
    /// Run only scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Also print every compared field.
    #[arg(long)]
    verbose: bool,
}

struct Allowed {
    scenario: String,
    field: String,
    reason: String,
}

impl Allowed {
    fn matches(&self, scenario: &str, field: &str) -> bool {
        glob(&self.scenario, scenario) && glob(&self.field, field)
    }
}

/// Whether `text` matches `pattern`, where each `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn load_allowed(path: &Option<PathBuf>) -> Result<Vec<Allowed>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, '|').map(str::trim).collect();
        if parts.len() != 3 || parts[2].is_empty() {
            anyhow::bail!(
                "{}:{}: want `scenario | field | reason`",
                path.display(),
                n + 1
            );
        }
        out.push(Allowed {
            scenario: parts[0].to_string(),
            field: parts[1].to_string(),
            reason: parts[2].to_string(),
        });
    }
    Ok(out)
}

fn run_one(address: &str, tag: &str, scenario: scenarios::Scenario) -> Obs {
    let ctx = Ctx {
        address: address.to_string(),
        tag: tag.to_string(),
    };
    let mut obs = Obs::default();
    if let Err(e) = scenario(&ctx, &mut obs) {
        obs.fields.push(("error".to_string(), format!("{e:#}")));
    }
    obs
}

fn cell(text: &str) -> String {
    let text = text.replace('|', "\\|");
    if text.chars().count() > 120 {
        format!(
            "{}…",
            &text[..text.char_indices().nth(118).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let allowed = load_allowed(&args.allowed)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let tag = format!("kd{:08}", now % 100_000_000);
    let mut compared = 0usize;
    let mut rows = Vec::new();
    let mut info_rows = Vec::new();
    let mut unexpected = 0usize;
    let mut allowed_hits = 0usize;
    for (name, scenario) in scenarios::ALL {
        if args.only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        eprintln!("kavka-diff: {name}");
        let a = run_one(&args.a, &tag, *scenario);
        let b = run_one(&args.b, &tag, *scenario);
        let mut order: Vec<String> = Vec::new();
        let mut map: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
        for (k, v) in &a.fields {
            if !map.contains_key(k) {
                order.push(k.clone());
            }
            map.entry(k.clone()).or_default().0 = Some(v.clone());
        }
        for (k, v) in &b.fields {
            if !map.contains_key(k) {
                order.push(k.clone());
            }
            map.entry(k.clone()).or_default().1 = Some(v.clone());
        }
        for field in order {
            let (va, vb) = &map[&field];
            compared += 1;
            let va = va.clone().unwrap_or_else(|| "<absent>".to_string());
            let vb = vb.clone().unwrap_or_else(|| "<absent>".to_string());
            if args.verbose {
                eprintln!("  {name} {field}: {va} | {vb}");
            }
            if va == vb {
                continue;
            }
            let verdict = match allowed.iter().find(|r| r.matches(name, &field)) {
                Some(r) => {
                    allowed_hits += 1;
                    format!("allowed: {}", r.reason)
                }
                None => {
                    unexpected += 1;
                    "**DIFFERENT**".to_string()
                }
            };
            rows.push(format!(
                "| {name} | {} | {} | {} | {} |",
                cell(&field),
                cell(&va),
                cell(&vb),
                cell(&verdict)
            ));
        }
        let ia: BTreeMap<_, _> = a.info.into_iter().collect();
        let ib: BTreeMap<_, _> = b.info.into_iter().collect();
        let keys: std::collections::BTreeSet<_> = ia.keys().chain(ib.keys()).cloned().collect();
        for k in keys {
            let va = ia.get(&k).cloned().unwrap_or_else(|| "-".to_string());
            let vb = ib.get(&k).cloned().unwrap_or_else(|| "-".to_string());
            let mark = if va == vb { "" } else { " (differs)" };
            info_rows.push(format!("| {name} | {k} | {va} | {vb}{mark} |"));
        }
    }
    println!(
        "## Differences ({} = --a, {} = --b)",
        args.a_name, args.b_name
    );
    println!();
    println!(
        "| scenario | field | {} | {} | verdict |",
        args.a_name, args.b_name
    );
    println!("| --- | --- | --- | --- | --- |");
    for r in &rows {
        println!("{r}");
    }
    println!();
    println!(
        "{compared} fields compared: {} equal, {allowed_hits} allowed differences, {unexpected} unexpected differences",
        compared - allowed_hits - unexpected
    );
    if !info_rows.is_empty() {
        println!();
        println!("## Information only (ApiVersions ranges, not compared)");
        println!();
        println!("| scenario | api | {} | {} |", args.a_name, args.b_name);
        println!("| --- | --- | --- | --- |");
        for r in &info_rows {
            println!("{r}");
        }
    }
    if unexpected > 0 {
        std::process::exit(1);
    }
    Ok(())
}
