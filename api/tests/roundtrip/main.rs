//! Every generated model reads the JSON document the official Python SDK's serializer
//! makes of it (`codegen/sdk-documents.jsonl`, written by `codegen/sdk_documents.py`:
//! every attribute of the SDK's model set, nested models one level down, serialized with
//! `ApiClient().sanitize_for_serialization`), with unknown fields refused (nothing may land
//! in `extra`, at any depth), and writes the same JSON back. The documents come from
//! running the SDK, not from the description the generator reads, so a field the
//! generator names or types differently from the SDK fails here.

use std::collections::BTreeMap;

use genesys_cloud_api::deny_unknown_fields;
use genesys_cloud_codegen::desc::{self, Description};
use genesys_cloud_codegen::testdata::parse_sdk_documents;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

#[rustfmt::skip]
mod cases;

/// A model's name and its round trip.
type Case = (&'static str, fn(&Value) -> Result<Value, String>);

/// Reads `doc` as `T`, refusing fields `T` (or a model inside it) does not know, checks
/// that every enum value the SDK accepted is one the generated enum knows, and writes it
/// back.
fn round_trip<T: DeserializeOwned + Serialize + std::fmt::Debug>(
    doc: &Value,
) -> Result<Value, String> {
    let model: T = deny_unknown_fields(|| serde_json::from_value(doc.clone()))
        .map_err(|e| format!("read: {e}"))?;
    // The documents' strings are "text" and the like: only an enum value the generated
    // enum does not know shows as `Unrecognized(..)`.
    let debug = format!("{model:?}");
    if let Some(at) = debug.find("Unrecognized(") {
        let end = debug[at..].find(')').map_or(debug.len(), |e| at + e + 1);
        return Err(format!(
            "an enum value the SDK accepts is not a variant: {}",
            &debug[at..end]
        ));
    }
    serde_json::to_value(&model).map_err(|e| format!("write: {e}"))
}

fn read(rel: &str) -> String {
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let path = format!("{manifest_dir}/../{rel}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn description() -> Description {
    desc::parse(&read("codegen/platform-api.json")).expect("the description parses")
}

fn sdk_documents() -> BTreeMap<String, Value> {
    parse_sdk_documents(&read(genesys_cloud_codegen::SDK_DOCUMENTS))
        .expect("the SDK documents parse")
}

/// The first place two documents differ, as a JSON pointer.
fn first_difference(a: &Value, b: &Value, at: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                if x.get(key) != y.get(key) {
                    return match (x.get(key), y.get(key)) {
                        (Some(p), Some(q)) => first_difference(p, q, format!("{at}/{key}")),
                        (p, q) => format!("{at}/{key}: {p:?} became {q:?}"),
                    };
                }
            }
            at
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return first_difference(p, q, format!("{at}/{i}"));
                }
            }
            at
        }
        _ => format!("{at}: {a} became {b}"),
    }
}

#[test]
fn every_model_round_trips_the_sdks_own_document() {
    let desc = description();
    let documents = sdk_documents();
    assert_eq!(
        cases::CASES.len(),
        desc.models.len(),
        "one case per model of the description"
    );
    let mut failures = Vec::new();
    let cases: BTreeMap<&str, _> = cases::CASES.iter().map(|(n, f)| (*n, f)).collect();
    for name in documents.keys() {
        if !cases.contains_key(name.as_str()) {
            failures.push(format!(
                "{name}: the SDK has the model, the generated crate not"
            ));
        }
    }
    for (name, round_trip) in &cases {
        let Some(doc) = documents.get(*name) else {
            failures.push(format!(
                "{name}: no SDK document (rerun codegen/sdk_documents.py)"
            ));
            continue;
        };
        match round_trip(doc) {
            Ok(back) if back == *doc => {}
            Ok(back) => failures.push(format!(
                "{name}: {}",
                first_difference(doc, &back, String::new())
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} models do not round-trip the SDK's document:\n{}",
        failures.len(),
        cases::CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn a_misspelt_field_is_refused_not_kept() {
    use genesys_cloud_api::models::Queue;
    let doc = serde_json::json!({"name": "Support", "division": {"id": "d1", "nmae": "x"}});
    let err = round_trip::<Queue>(&doc).expect_err("an unknown nested field fails the round trip");
    assert!(
        err.contains("unknown field `nmae`") && err.contains("division"),
        "{err}"
    );
    // Outside the test's strict read, the same document is kept whole.
    let queue: Queue = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(serde_json::to_value(&queue).unwrap(), doc);
}

#[test]
fn a_model_missing_required_fields_and_with_new_enum_values_still_reads() {
    use genesys_cloud_api::models::{Queue, QueueSkillEvaluationMethod};
    let queue: Queue = serde_json::from_value(serde_json::json!({
        "skillEvaluationMethod": "SOMETHING_NEW",
        "memberCount": 3,
        "brandNewField": {"x": 1},
    }))
    .expect("a sparse queue reads");
    assert_eq!(
        queue.skill_evaluation_method,
        Some(QueueSkillEvaluationMethod::Unrecognized(
            "SOMETHING_NEW".into()
        ))
    );
    assert_eq!(queue.member_count, Some(3));
    assert_eq!(queue.name, None);
    assert_eq!(queue.extra["brandNewField"], serde_json::json!({"x": 1}));
    let back = serde_json::to_value(&queue).unwrap();
    assert_eq!(
        back.as_object().map(|o| o.len()),
        Some(3),
        "None fields are left out: {back}"
    );
}
