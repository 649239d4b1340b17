//! Offsets by time: ListOffsets to each partition's leader, and the date and duration
//! formats of `--to-datetime` and `--by-duration`.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::error::ToolError;
use crate::wire::Connection;

/// ListOffsets timestamp for the log start offset.
pub(crate) const EARLIEST: i64 = -2;
/// ListOffsets timestamp for the log end offset.
pub(crate) const LATEST: i64 = -1;

/// The offset for `timestamp` of each partition, asking each partition's leader.
pub(crate) fn list_offsets(
    conn: &mut Connection,
    partitions: &[(String, i32)],
    timestamp: i64,
) -> Result<HashMap<(String, i32), i64>, ToolError> {
    let mut out = HashMap::new();
    if partitions.is_empty() {
        return Ok(out);
    }
    let mut topics: Vec<String> = partitions.iter().map(|(t, _)| t.clone()).collect();
    topics.sort();
    topics.dedup();
    let metadata = conn.metadata(Some(&topics))?;
    let brokers: HashMap<i32, String> = metadata
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
        .collect();
    let mut leaders: HashMap<(String, i32), i32> = HashMap::new();
    for t in &metadata.topics {
        let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
        for p in &t.partitions {
            leaders.insert((name.clone(), p.partition_index), p.leader_id.0);
        }
    }
    // leader -> topic -> partitions
    let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
    for (t, p) in partitions {
        let Some(leader) = leaders.get(&(t.clone(), *p)).copied() else {
            continue;
        };
        by_leader
            .entry(leader)
            .or_default()
            .entry(t.as_str())
            .or_default()
            .push(*p);
    }
    for (leader, topics) in by_leader {
        let mut request = ListOffsetsRequest::default();
        request.replica_id = BrokerId(-1);
        request.topics = topics
            .into_iter()
            .map(|(t, ps)| {
                let mut topic = ListOffsetsTopic::default();
                topic.name = TopicName(StrBytes::from_string(t.to_string()));
                topic.partitions = ps
                    .into_iter()
                    .map(|p| {
                        let mut part = ListOffsetsPartition::default();
                        part.partition_index = p;
                        part.current_leader_epoch = -1;
                        part.timestamp = timestamp;
                        part
                    })
                    .collect();
                topic
            })
            .collect();
        let response = conn.send_to(brokers.get(&leader), request)?;
        for t in response.topics {
            for p in t.partitions {
                if p.error_code != 0 {
                    return Err(ToolError::from_code(p.error_code, None));
                }
                out.insert((t.name.0.to_string(), p.partition_index), p.offset);
            }
        }
    }
    Ok(out)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm|-hh:mm]` as epoch milliseconds; without a zone,
/// UTC.
pub(crate) fn parse_datetime_ms(s: &str) -> Result<i64, ToolError> {
    let bad = || {
        ToolError::Usage(format!("Error parsing timestamp. It does not match the expected format yyyy-MM-dd'T'HH:mm:ss.SSS: {s}"))
    };
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [year, month, day] = d[..] else {
        return Err(bad());
    };
    let (time, offset_ms) = if let Some(t) = time.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (t, zone) = time.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let zone = zone[1..].replace(':', "");
        let hh: i64 = zone.get(..2).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        let mm: i64 = zone.get(2..4).and_then(|x| x.parse().ok()).unwrap_or(0);
        (t, sign * (hh * 3_600_000 + mm * 60_000))
    } else {
        (time, 0)
    };
    let (hms, millis) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [h, mi, sec] = t[..] else {
        return Err(bad());
    };
    let millis: i64 = format!("{millis:0<3}")
        .get(..3)
        .and_then(|x| x.parse().ok())
        .ok_or_else(bad)?;
    let days = days_from_civil(year, month, day);
    Ok(days * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + millis - offset_ms)
}

/// An ISO-8601 duration `PnDTnHnMnS` in milliseconds.
pub(crate) fn parse_duration_ms(s: &str) -> Result<i64, ToolError> {
    let bad = || {
        ToolError::Usage(format!(
            "Error parsing duration {s}: expected the format PnDTnHnMnS"
        ))
    };
    let rest = s.strip_prefix(['P', 'p']).ok_or_else(bad)?;
    let mut total = 0f64;
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' => in_time = true,
            '0'..='9' | '.' | '-' => number.push(c),
            unit => {
                let n: f64 = number.parse().map_err(|_| bad())?;
                number.clear();
                total += n * match (unit, in_time) {
                    ('D', false) => 86_400_000.0,
                    ('H', true) => 3_600_000.0,
                    ('M', true) => 60_000.0,
                    ('S', true) => 1000.0,
                    _ => return Err(bad()),
                };
            }
        }
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_to_epoch_millis() {
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00.000").expect("dt"), 0);
        assert_eq!(
            parse_datetime_ms("2020-01-01T00:00:00.000").expect("dt"),
            1_577_836_800_000
        );
        assert_eq!(
            parse_datetime_ms("2020-01-01T01:00:00.5+01:00").expect("dt"),
            1_577_836_800_500
        );
        assert!(parse_datetime_ms("yesterday").is_err());
    }

    #[test]
    fn durations_parse_to_millis() {
        assert_eq!(parse_duration_ms("PT1H").expect("d"), 3_600_000);
        assert_eq!(
            parse_duration_ms("P1DT2M3S").expect("d"),
            86_400_000 + 123_000
        );
        assert!(parse_duration_ms("1H").is_err());
    }
}
