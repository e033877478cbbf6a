//! Every generated model reads a JSON document synthesized from its description (every
//! field present, enums with allowed values, nested models, lists and maps of one, and a
//! field no model has) and writes it back unchanged.

use genesys_cloud_codegen::desc::{self, Description};
use genesys_cloud_codegen::synth::{Synth, UNKNOWN_FIELD};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

#[rustfmt::skip]
mod cases;

/// A model's name and its round trip.
type Case = (&'static str, fn(&Value) -> Result<Value, String>);

/// Reads `doc` as `T` and writes it back.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<Value, String> {
    let model: T = serde_json::from_value(doc.clone()).map_err(|e| format!("read: {e}"))?;
    serde_json::to_value(&model).map_err(|e| format!("write: {e}"))
}

fn description() -> Description {
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let path = format!("{manifest_dir}/../codegen/platform-api.json");
    let text = std::fs::read_to_string(path).expect("codegen/platform-api.json");
    desc::parse(&text).expect("the description parses")
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
fn every_model_round_trips_a_synthesized_document() {
    let desc = description();
    assert_eq!(
        cases::CASES.len(),
        desc.models.len(),
        "one case per model of the description"
    );
    let synth = Synth::new(&desc, true);
    let mut failures = Vec::new();
    for (name, round_trip) in &cases::CASES {
        let doc = synth.model(name).expect("a synthesized document");
        assert!(doc.get(UNKNOWN_FIELD).is_some());
        match round_trip(&doc) {
            Ok(back) if back == doc => {}
            Ok(back) => failures.push(format!(
                "{name}: {}",
                first_difference(&doc, &back, String::new())
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} models do not round-trip:\n{}",
        failures.len(),
        cases::CASES.len(),
        failures.join("\n")
    );
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
