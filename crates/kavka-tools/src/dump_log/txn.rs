//! `--transaction-log-decoder`: each `__transaction_state` record as Kafka's
//! `TransactionLogMessageParser` prints it, the key as `{"type":..,"data":{..}}`,
//! the value as `{"version":..,"data":{..}}` (or `<DELETE>`) with the status by
//! name, decoded by
//! `kavka-txn`, the codec the transaction coordinator itself uses.

use kavka_txn::{decode_transaction_log_key, RecordError, TransactionLogValue, TxnState};

use super::json::Json;
use super::Parsed;

/// The key and payload Kafka prints for one record at `offset`.
pub(super) fn parse(offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Parsed {
    let Some(key) = key else {
        return Parsed::Fatal(format!(
            "Failed to decode message at offset {offset} using the specified decoder (message had a missing key)"
        ));
    };
    let transactional_id = match decode_transaction_log_key(key) {
        Ok(id) => id,
        Err(RecordError::Version { version, .. }) => {
            return Parsed::Text {
                key: Some(format!(
                    "Unknown record type {version} at offset {offset}, skipping."
                )),
                payload: None,
            }
        }
        Err(e) => return error(offset, &e),
    };
    let payload = match value.map(TransactionLogValue::decode) {
        None => "<DELETE>".to_string(),
        Some(Ok(v)) => Json::Object(vec![
            ("version", Json::Str(v.version.to_string())),
            ("data", value_json(&v)),
        ])
        .to_string(),
        Some(Err(e)) => return error(offset, &e),
    };
    let key_json = Json::Object(vec![
        ("type", Json::str("0")),
        (
            "data",
            Json::Object(vec![("transactionalId", Json::Str(transactional_id))]),
        ),
    ]);
    Parsed::Text {
        key: Some(key_json.to_string()),
        payload: Some(payload),
    }
}

fn error(offset: i64, e: &RecordError) -> Parsed {
    Parsed::Text {
        key: Some(format!("Error at offset {offset}, skipping. {e}")),
        payload: None,
    }
}

/// `TransactionLogValue`'s fields in schema order; the tagged ones (version 1)
/// only when away from their defaults, as Kafka's JSON converter writes them.
fn value_json(v: &TransactionLogValue) -> Json {
    let tagged = v.version >= 1;
    let mut data = vec![("producerId", Json::Int(v.producer_id))];
    if tagged && v.previous_producer_id != -1 {
        data.push(("previousProducerId", Json::Int(v.previous_producer_id)));
    }
    if tagged && v.next_producer_id != -1 {
        data.push(("nextProducerId", Json::Int(v.next_producer_id)));
    }
    data.push(("producerEpoch", Json::Int(v.producer_epoch.into())));
    if tagged && v.next_producer_epoch != -1 {
        data.push(("nextProducerEpoch", Json::Int(v.next_producer_epoch.into())));
    }
    data.push((
        "transactionTimeoutMs",
        Json::Int(v.transaction_timeout_ms.into()),
    ));
    // Kafka's parser replaces the status byte by the state's name (the number, as
    // text, when it names no state).
    let status = TxnState::from_id(v.transaction_status).map_or_else(
        || v.transaction_status.to_string(),
        |s| s.name().to_string(),
    );
    data.push(("transactionStatus", Json::Str(status)));
    let partitions = v
        .transaction_partitions
        .as_ref()
        .map_or(Json::Null, |topics| {
            Json::Array(
                topics
                    .iter()
                    .map(|(topic, partitions)| {
                        Json::Object(vec![
                            ("topic", Json::str(topic)),
                            ("partitionIds", Json::ints(partitions)),
                        ])
                    })
                    .collect(),
            )
        });
    data.push(("transactionPartitions", partitions));
    data.push((
        "transactionLastUpdateTimestampMs",
        Json::Int(v.transaction_last_update_timestamp_ms),
    ));
    data.push((
        "transactionStartTimestampMs",
        Json::Int(v.transaction_start_timestamp_ms),
    ));
    if tagged && v.client_transaction_version != 0 {
        data.push((
            "clientTransactionVersion",
            Json::Int(v.client_transaction_version.into()),
        ));
    }
    Json::Object(data)
}
