//! `kafka-dump-log`: prints segment files (`.log`), offset indexes (`.index`) and time
//! indexes (`.timeindex`) offline, as Kafka's DumpLogSegments does. Kavka writes
//! these files in Kafka's format, so the tool reads either broker's directories.
//!
//! The files may be anything (a crash, a wrong path): every read is bounds-checked
//! and what cannot be parsed is reported, never a panic.
//!
//! With `--offsets-decoder` (`offsets.rs`) or `--transaction-log-decoder`
//! (`txn.rs`) each record of a `__consumer_offsets` or `__transaction_state`
//! segment is printed as Kafka's JSON (`json.rs`), decoded by the codecs the
//! coordinators themselves use.

mod json;
mod offsets;
mod txn;

use std::ffi::OsString;
use std::path::Path;

use bytes::Bytes;
use clap::Parser;
use kafka_protocol::records::RecordBatchDecoder;

const USAGE_TEXT: &str = "This tool helps to parse a log file and dump its contents to the console, useful for debugging a seemingly corrupt log segment.";

/// Kafka's DumpLogSegments options (the ones Kavka implements).
#[derive(Parser, Debug)]
#[command(name = "kafka-dump-log", about = USAGE_TEXT)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// REQUIRED: The comma separated list of data and index log files to be dumped.
    #[arg(long, value_name = "file1, file2, ...")]
    files: Option<String>,
    /// If set, printing the messages content when dumping data logs.
    #[arg(long)]
    print_data_log: bool,
    /// if set, uses deep instead of shallow iteration. Automatically set if print-data-log is enabled.
    #[arg(long)]
    deep_iteration: bool,
    /// If set, just checks the index sanity without printing its content.
    #[arg(long)]
    index_sanity_check: bool,
    /// If set, just verify the index log without printing its content.
    #[arg(long)]
    verify_index_only: bool,
    /// Skip metadata when printing records. This flag also skips control records.
    #[arg(long)]
    skip_record_metadata: bool,
    /// If set, log data will be parsed as offset data from the __consumer_offsets topic.
    #[arg(long)]
    offsets_decoder: bool,
    /// If set, log data will be parsed as transaction metadata from the __transaction_state topic.
    #[arg(long)]
    transaction_log_decoder: bool,
}

/// Runs kafka-dump-log.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match crate::parse_args_terse(argv, "", USAGE_TEXT) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let Some(files) = args.files.as_deref() else {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[files]\"",
        ));
    };
    // Kafka picks the first decoder named, in this order; any decoder implies
    // printing the data, which implies deep iteration.
    let decoder = if args.offsets_decoder {
        Decoder::Offsets
    } else if args.transaction_log_decoder {
        Decoder::TransactionLog
    } else {
        Decoder::Plain
    };
    let print_data = args.print_data_log || decoder != Decoder::Plain;
    let options = Options {
        print_data,
        deep: args.deep_iteration || print_data,
        skip_metadata: args.skip_record_metadata,
        decoder,
    };
    for file in files.split(',') {
        println!("Dumping {file}");
        let path = Path::new(file);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let suffix = name.rfind('.').map_or("", |i| &name[i..]);
        let mut fatal = None;
        let dumped = match suffix {
            ".log" => std::fs::read(path).map(|data| {
                println!("Log starting offset: {}", base_offset(name));
                let (lines, error) = dump_log(&data, name, &options);
                for line in lines {
                    println!("{line}");
                }
                fatal = error;
            }),
            ".index" | ".timeindex" => std::fs::read(path).map(|data| {
                let kind = if suffix == ".index" {
                    IndexKind::Offset
                } else {
                    IndexKind::Time
                };
                let index = Index::parse(kind, base_offset(name), &data);
                // Kafka reports an empty offset index; an empty time index prints nothing.
                if index.entries.is_empty() && kind == IndexKind::Offset {
                    println!("{file} is empty.");
                } else if args.index_sanity_check {
                    match index.sanity_check() {
                        Ok(()) => println!("{file} passed sanity check."),
                        Err(message) => eprintln!("{message}"),
                    }
                } else if !args.verify_index_only {
                    for line in index.lines() {
                        println!("{line}");
                    }
                }
            }),
            _ => {
                eprintln!("Ignoring unknown file {file}");
                Ok(())
            }
        };
        if let Err(e) = dumped {
            eprintln!("{file} (No such file or directory): {e}");
            return Ok(1);
        }
        // A record the decoder cannot even start on ends the tool, as Kafka's
        // exception does.
        if let Some(message) = fatal {
            eprintln!("{message}");
            return Ok(1);
        }
    }
    Ok(0)
}

/// A segment's or index's base offset, from its file name (`00000000000000000042.log`).
fn base_offset(name: &str) -> i64 {
    name.split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// How much of each batch to print.
#[derive(Debug, Clone, Copy, Default)]
struct Options {
    print_data: bool,
    deep: bool,
    skip_metadata: bool,
    decoder: Decoder,
}

/// How a record's key and value are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Decoder {
    /// As text (Kafka's default `StringDecoder`).
    #[default]
    Plain,
    /// `__consumer_offsets` records, as Kafka's JSON.
    Offsets,
    /// `__transaction_state` records, as Kafka's JSON.
    TransactionLog,
}

/// What a decoder makes of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parsed {
    /// The key and payload to print (each only when present).
    Text {
        key: Option<String>,
        payload: Option<String>,
    },
    /// The record cannot be decoded at all: the tool stops with this message.
    Fatal(String),
}

impl Decoder {
    fn parse(self, offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Parsed {
        match self {
            Decoder::Plain => Parsed::Text {
                key: key.map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: value.map(|v| String::from_utf8_lossy(v).into_owned()),
            },
            Decoder::Offsets => offsets::parse(offset, key, value),
            Decoder::TransactionLog => txn::parse(offset, key, value),
        }
    }
}

/// The fixed-size header of a v2 record batch, read without decoding its records.
#[derive(Debug, Clone, PartialEq)]
struct BatchHeader {
    base_offset: i64,
    size: usize,
    partition_leader_epoch: i32,
    magic: i8,
    crc: u32,
    attributes: i16,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    count: i32,
}

/// Bytes before a batch's CRC-covered part, and the whole v2 header.
const CRC_START: usize = 21;
const V2_HEADER: usize = 61;
/// Offset and length fields that start every batch.
const LOG_OVERHEAD: usize = 12;

fn i16_at(b: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn i64_at(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl BatchHeader {
    /// The header of the batch at the start of `b`, or None when `b` does not hold a
    /// whole v2 batch (the end of the valid part of a segment).
    fn parse(b: &[u8]) -> Option<Self> {
        let length = usize::try_from(i32_at(b, 8)?).ok()?;
        let size = LOG_OVERHEAD.checked_add(length)?;
        if size < V2_HEADER || b.len() < size || b.get(16).copied()? != 2 {
            return None;
        }
        Some(Self {
            base_offset: i64_at(b, 0)?,
            size,
            partition_leader_epoch: i32_at(b, 12)?,
            magic: 2,
            crc: u32::from_be_bytes(b.get(17..21)?.try_into().ok()?),
            attributes: i16_at(b, 21)?,
            last_offset_delta: i32_at(b, 23)?,
            base_timestamp: i64_at(b, 27)?,
            max_timestamp: i64_at(b, 35)?,
            producer_id: i64_at(b, 43)?,
            producer_epoch: i16_at(b, 51)?,
            base_sequence: i32_at(b, 53)?,
            count: i32_at(b, 57)?,
        })
    }

    fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Kafka's sequence arithmetic: sequences wrap from i32::MAX to 0.
    fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let next = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        i32::try_from(next % (i64::from(i32::MAX) + 1)).unwrap_or(-1)
    }

    /// A record's sequence, as Kafka derives it from the batch: none when the
    /// batch has none (the decoder would count up from -1).
    fn record_sequence(&self, offset: i64) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let next = i64::from(self.base_sequence) + (offset - self.base_offset);
        i32::try_from(next.rem_euclid(i64::from(i32::MAX) + 1)).unwrap_or(-1)
    }

    fn compression(&self) -> &'static str {
        match self.attributes & 0x07 {
            0 => "none",
            1 => "gzip",
            2 => "snappy",
            3 => "lz4",
            4 => "zstd",
            _ => "unknown",
        }
    }

    fn timestamp_type(&self) -> &'static str {
        if self.attributes & 0x08 != 0 {
            "LogAppendTime"
        } else {
            "CreateTime"
        }
    }

    fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    /// Java's `OptionalLong` of the delete horizon (set by the cleaner on batches
    /// with tombstones or markers: then the base timestamp is the horizon).
    fn delete_horizon(&self) -> String {
        if self.attributes & 0x40 != 0 {
            format!("OptionalLong[{}]", self.base_timestamp)
        } else {
            "OptionalLong.empty".to_string()
        }
    }

    /// The batch line, `position` bytes into the file.
    fn line(&self, position: usize, valid: bool) -> String {
        format!(
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} deleteHorizonMs: {} position: {position} {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {valid}",
            self.base_offset,
            self.last_offset(),
            self.count,
            self.base_sequence,
            self.last_sequence(),
            self.producer_id,
            self.producer_epoch,
            self.partition_leader_epoch,
            self.is_transactional(),
            self.is_control(),
            self.delete_horizon(),
            self.timestamp_type(),
            self.max_timestamp,
            self.size,
            self.magic,
            self.compression(),
            self.crc,
        )
    }
}

/// The lines Kafka prints for a segment file's batches (and records, when deep),
/// and the message that stopped it if a record could not be decoded at all.
fn dump_log(data: &[u8], name: &str, options: &Options) -> (Vec<String>, Option<String>) {
    let mut lines = Vec::new();
    let mut position = 0usize;
    while let Some(header) = data.get(position..).and_then(BatchHeader::parse) {
        let batch = &data[position..position + header.size];
        let valid = crc32c::crc32c(&batch[CRC_START..]) == header.crc;
        lines.push(header.line(position, valid));
        if options.deep {
            if let Err(message) = record_lines(&header, batch, options, &mut lines) {
                return (lines, Some(message));
            }
        }
        position += header.size;
    }
    if position < data.len() {
        lines.push(format!(
            "Found {} invalid bytes at the end of {name}",
            data.len() - position
        ));
    }
    (lines, None)
}

/// One `| offset: ...` line per record of a batch, appended to `lines`; the
/// decoder's message when a record cannot be decoded at all.
fn record_lines(
    header: &BatchHeader,
    batch: &[u8],
    options: &Options,
    lines: &mut Vec<String>,
) -> Result<(), String> {
    let mut buf = Bytes::copy_from_slice(batch);
    let records = match RecordBatchDecoder::decode(&mut buf) {
        Ok(set) => set.records,
        Err(e) => {
            lines.push(format!("| cannot decode the records of this batch: {e}"));
            return Ok(());
        }
    };
    for record in &records {
        // With --skip-record-metadata a control record is an empty line, as in Kafka.
        let mut line = String::new();
        let mut prefix = "| ";
        let size = |b: &Option<Bytes>| b.as_ref().map_or(-1, |b| b.len() as i64);
        if !options.skip_metadata {
            line.push_str(&format!(
                "{prefix}offset: {} {}: {} keySize: {} valueSize: {} sequence: {} headerKeys: [{}]",
                record.offset,
                header.timestamp_type(),
                record.timestamp,
                size(&record.key),
                size(&record.value),
                header.record_sequence(record.offset),
                record
                    .headers
                    .keys()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            prefix = " ";
            if header.is_control() {
                line.push_str(&control_text(
                    record.key.as_deref(),
                    record.value.as_deref(),
                ));
            }
        }
        if options.print_data && !header.is_control() {
            let parsed = options.decoder.parse(
                record.offset,
                record.key.as_deref(),
                record.value.as_deref(),
            );
            let (key, payload) = match parsed {
                Parsed::Text { key, payload } => (key, payload),
                Parsed::Fatal(message) => return Err(message),
            };
            if let Some(key) = key {
                line.push_str(&format!("{prefix}key: {key}"));
                prefix = " ";
            }
            if let Some(payload) = payload {
                line.push_str(&format!("{prefix}payload: {payload}"));
            }
        }
        lines.push(line);
    }
    Ok(())
}

/// What Kafka prints after a control record's metadata: the transaction marker.
fn control_text(key: Option<&[u8]>, value: Option<&[u8]>) -> String {
    let kind = key.and_then(|k| i16_at(k, 2));
    let epoch = value.and_then(|v| i32_at(v, 2));
    match (kind, epoch) {
        (Some(0), Some(e)) => format!(" endTxnMarker: ABORT coordinatorEpoch: {e}"),
        (Some(1), Some(e)) => format!(" endTxnMarker: COMMIT coordinatorEpoch: {e}"),
        (Some(t), _) => format!(" controlType: UNKNOWN({t})"),
        (None, _) => " controlType: UNKNOWN(-1)".to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum IndexKind {
    /// `.index`: (relative offset i32, position i32).
    Offset,
    /// `.timeindex`: (timestamp i64, relative offset i32).
    Time,
}

/// An offset or time index file's entries: (offset, position or timestamp).
#[derive(Debug)]
struct Index {
    kind: IndexKind,
    base_offset: i64,
    /// (offset, position) or (offset, timestamp).
    entries: Vec<(i64, i64)>,
    /// The file's length is not a whole number of entries.
    trailing_bytes: usize,
}

impl Index {
    fn parse(kind: IndexKind, base_offset: i64, data: &[u8]) -> Self {
        let width = match kind {
            IndexKind::Offset => 8,
            IndexKind::Time => 12,
        };
        let mut entries = Vec::new();
        for (i, chunk) in data.chunks_exact(width).enumerate() {
            let entry = match kind {
                IndexKind::Offset => (
                    i32_at(chunk, 0).map(|r| base_offset + i64::from(r)),
                    i32_at(chunk, 4).map(i64::from),
                ),
                IndexKind::Time => (
                    i32_at(chunk, 8).map(|r| base_offset + i64::from(r)),
                    i64_at(chunk, 0),
                ),
            };
            let (Some(offset), Some(value)) = entry else {
                break;
            };
            // A preallocated (sparse) index ends in zero entries: Kafka stops at the
            // first entry after the first that points at the base offset.
            if i > 0 && offset == base_offset {
                break;
            }
            entries.push((offset, value));
        }
        Self {
            kind,
            base_offset,
            entries,
            trailing_bytes: data.len() % width,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(offset, value)| match self.kind {
                IndexKind::Offset => format!("offset: {offset} position: {value}"),
                IndexKind::Time => format!("timestamp: {value} offset: {offset}"),
            })
            .collect()
    }

    /// Kafka's checks before it trusts an index: whole entries, offsets above the base
    /// and increasing.
    fn sanity_check(&self) -> Result<(), String> {
        if self.trailing_bytes != 0 {
            return Err(format!(
                "Index file has a size that is not a multiple of the entry size ({} bytes left over)",
                self.trailing_bytes
            ));
        }
        let mut previous = self.base_offset - 1;
        for (offset, _) in &self.entries {
            if *offset < self.base_offset || (*offset <= previous && previous >= self.base_offset) {
                return Err(format!(
                    "Corrupt index found, index offset ({offset}) is not larger than the previous one ({previous})"
                ));
            }
            previous = *offset;
        }
        Ok(())
    }
}

#[cfg(test)]
mod decoder_tests;
#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    fn record(offset: i64, value: &str, timestamp: i64) -> Record {
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: 1,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: offset as i32,
            timestamp,
            key: None,
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: Default::default(),
        }
    }

    fn segment(records: &[Record]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, records, &options).expect("encode");
        buf.to_vec()
    }

    #[test]
    fn batch_and_record_lines_read_as_kafkas() {
        let records: Vec<Record> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, v)| record(i as i64, v, 1_796_275_793_907))
            .collect();
        let data = segment(&records);
        let options = Options {
            print_data: true,
            deep: true,
            ..Options::default()
        };
        let (lines, _) = dump_log(&data, "00000000000000000000.log", &options);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        let crc = u32::from_be_bytes([data[17], data[18], data[19], data[20]]);
        assert_eq!(
            lines[0],
            format!(
                "baseOffset: 0 lastOffset: 2 count: 3 baseSequence: 0 lastSequence: 2 producerId: 1 producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 1796275793907 size: {} magic: 2 compresscodec: none crc: {crc} isvalid: true",
                data.len()
            )
        );
        assert_eq!(
            lines[2],
            "| offset: 1 CreateTime: 1796275793907 keySize: -1 valueSize: 1 sequence: 1 headerKeys: [] payload: b"
        );
    }

    #[test]
    fn skipped_metadata_leaves_the_record_indent_before_a_keyless_payload() {
        let data = segment(&[record(0, "a", 1)]);
        let options = Options {
            print_data: true,
            deep: true,
            skip_metadata: true,
            ..Options::default()
        };
        let (lines, _) = dump_log(&data, "00000000000000000000.log", &options);
        assert_eq!(lines[1], "| payload: a", "{lines:#?}");
    }

    #[test]
    fn corrupt_bytes_are_reported_not_fatal() {
        let mut data = segment(&[record(0, "a", 1)]);
        let whole = data.len();
        // A flipped payload byte: the batch prints, marked invalid.
        data[whole - 1] ^= 0xff;
        data.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 1]);
        let (lines, _) = dump_log(&data, "x.log", &Options::default());
        assert!(lines[0].ends_with("isvalid: false"), "{lines:#?}");
        assert_eq!(lines[1], "Found 13 invalid bytes at the end of x.log");
        // Garbage of every length never panics.
        for n in 0..80 {
            let garbage: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
            for decoder in [Decoder::Plain, Decoder::Offsets, Decoder::TransactionLog] {
                let _ = dump_log(
                    &garbage,
                    "g.log",
                    &Options {
                        deep: true,
                        print_data: true,
                        skip_metadata: false,
                        decoder,
                    },
                );
            }
            let _ = Index::parse(IndexKind::Time, 0, &garbage).sanity_check();
        }
    }

    #[test]
    fn index_entries_stop_at_the_preallocated_zeros() {
        let mut data = Vec::new();
        for (rel, pos) in [(0i32, 0i32), (40, 4096), (0, 0), (0, 0)] {
            data.extend_from_slice(&rel.to_be_bytes());
            data.extend_from_slice(&pos.to_be_bytes());
        }
        let index = Index::parse(IndexKind::Offset, 100, &data);
        assert_eq!(
            index.lines(),
            vec!["offset: 100 position: 0", "offset: 140 position: 4096"]
        );
        assert!(index.sanity_check().is_ok());

        let mut time = Vec::new();
        time.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
        time.extend_from_slice(&3i32.to_be_bytes());
        let index = Index::parse(IndexKind::Time, 0, &time);
        assert_eq!(index.lines(), vec!["timestamp: 1700000000000 offset: 3"]);
    }
}
