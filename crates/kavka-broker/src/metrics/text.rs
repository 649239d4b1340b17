//! The Prometheus text exposition format (version 0.0.4), written by hand: a
//! scrape renders a few families whose values are read from the broker's state
//! at that moment, which needs no registry, only correct escaping and grouping.

use std::fmt::Write;

/// A metric family's type, as the `# TYPE` line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The content type of what [`Exposition`] writes.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A page of metrics being written. Every family is announced once with
/// [`Exposition::family`] and its samples follow it directly.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: `# HELP` and `# TYPE`.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(
            self.out,
            "# HELP {name} {}\n# TYPE {name} {}",
            escape_help(help),
            kind.as_str()
        );
    }

    /// One sample of an integer value.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.name_and_labels(name, labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// One sample of a signed value (offsets and lags may be -1 or negative).
    pub(crate) fn sample_i64(&mut self, name: &str, labels: &[(&str, &str)], value: i64) {
        self.name_and_labels(name, labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// A family with one unlabelled sample.
    pub(crate) fn single(&mut self, name: &str, kind: Kind, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The samples of one histogram series: `cumulative` holds a count per
    /// bound of `bounds` and then the total (`+Inf`, also `_count`).
    pub(crate) fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        bounds: &[f64],
        cumulative: &[u64],
        sum: f64,
    ) {
        let bucket = format!("{name}_bucket");
        for (bound, count) in bounds.iter().zip(cumulative) {
            let le = format_float(*bound);
            self.name_and_labels(&bucket, labels, Some(&le));
            let _ = writeln!(self.out, " {count}");
        }
        let total = cumulative.last().copied().unwrap_or(0);
        self.name_and_labels(&bucket, labels, Some("+Inf"));
        let _ = writeln!(self.out, " {total}");
        self.name_and_labels(&format!("{name}_sum"), labels, None);
        let _ = writeln!(self.out, " {}", format_float(sum));
        self.name_and_labels(&format!("{name}_count"), labels, None);
        let _ = writeln!(self.out, " {total}");
    }

    /// The page.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn name_and_labels(&mut self, name: &str, labels: &[(&str, &str)], le: Option<&str>) {
        self.out.push_str(name);
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let mut first = true;
        for (k, v) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_label_into(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push('}');
    }
}

/// A float as Prometheus reads it (`+Inf`, `-Inf`, `NaN` spelled its way).
fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Label values escape backslash, double quote and line feed.
fn escape_label_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Help text escapes backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_samples_and_escapes_labels() {
        let mut e = Exposition::default();
        e.family("kafka_x_total", Kind::Counter, "Things.\nCounted \\ here.");
        e.sample("kafka_x_total", &[("group", "a\"b\\c\nd")], 3);
        e.single("kafka_y", Kind::Gauge, "One.", 1);
        e.family("kafka_t", Kind::Histogram, "Time.");
        e.histogram(
            "kafka_t",
            &[("request", "Produce")],
            &[0.5, 10.0],
            &[1, 2, 4],
            12.5,
        );
        let text = e.finish();
        let expected = "# HELP kafka_x_total Things.\\nCounted \\\\ here.\n\
# TYPE kafka_x_total counter\n\
kafka_x_total{group=\"a\\\"b\\\\c\\nd\"} 3\n\
# HELP kafka_y One.\n# TYPE kafka_y gauge\nkafka_y 1\n\
# HELP kafka_t Time.\n# TYPE kafka_t histogram\n\
kafka_t_bucket{request=\"Produce\",le=\"0.5\"} 1\n\
kafka_t_bucket{request=\"Produce\",le=\"10\"} 2\n\
kafka_t_bucket{request=\"Produce\",le=\"+Inf\"} 4\n\
kafka_t_sum{request=\"Produce\"} 12.5\n\
kafka_t_count{request=\"Produce\"} 4\n";
        assert_eq!(text, expected);
    }
}
