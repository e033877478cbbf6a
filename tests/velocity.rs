//! The differential suite: every case of `tests/velocity-oracle/corpus.json` rendered by
//! this crate and compared with what Apache Velocity 1.7 rendered for it
//! (`golden.json`, see `tests/velocity-oracle/README.md` to regenerate it).
//!
//! Outputs must be identical; where Velocity raised an error the crate must raise the
//! same class of error. Cases marked `known_difference` in the corpus are the differences
//! listed in `docs/nodes.md`, each with its reason; they are counted, not compared.

use std::collections::BTreeMap;

use genesys_cloud::nodes::template::{Bindings, Credentials, Json, Template};
use serde::Deserialize;

const CORPUS: &str = include_str!("velocity-oracle/corpus.json");
const GOLDEN: &str = include_str!("velocity-oracle/golden.json");

#[derive(Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    template: String,
    context: Context,
    oracle: String,
    #[serde(default)]
    known_difference: Option<String>,
}

#[derive(Deserialize)]
struct Context {
    #[serde(default)]
    input: Option<Json>,
    #[serde(default)]
    credentials: Option<Json>,
    #[serde(default, rename = "rawResult")]
    raw_result: Option<Json>,
    #[serde(default)]
    translations: Option<Json>,
}

#[derive(Deserialize)]
struct Golden {
    results: BTreeMap<String, Outcome>,
}

#[derive(Deserialize)]
struct Outcome {
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<GoldenError>,
}

#[derive(Deserialize)]
struct GoldenError {
    class: String,
}

/// A JSON value as the oracle binds it: a string as its text, anything else as its
/// compact JSON.
fn text_of(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_jackson(),
    }
}

fn render(case: &Case) -> Result<String, String> {
    let template = Template::parse(&case.template).map_err(|e| e.exception().to_owned())?;
    let empty = Json::Object(Vec::new());
    let input = match &case.context.input {
        Some(input @ Json::Object(_)) => input,
        _ => &empty,
    };
    let mut credentials = Credentials::new();
    if let Some(Json::Object(fields)) = &case.context.credentials {
        for (name, value) in fields {
            credentials.insert(name.clone(), text_of(value));
        }
    }
    let raw_result = match &case.context.raw_result {
        None | Some(Json::Null) => None,
        Some(v) => Some(text_of(v)),
    };
    let translations: Vec<(String, String)> = match &case.context.translations {
        Some(Json::Object(entries)) => entries
            .iter()
            .map(|(k, v)| (k.clone(), text_of(v)))
            .collect(),
        _ => Vec::new(),
    };
    let mut bindings = Bindings::new()
        .input_ordered(input)
        .credentials(&credentials);
    if let Some(raw) = &raw_result {
        bindings = bindings.raw_result(raw);
    }
    for (name, text) in &translations {
        bindings = bindings.translation(name, text);
    }
    template
        .render(&bindings)
        .map_err(|e| e.exception().to_owned())
}

#[test]
fn every_corpus_case_renders_as_apache_velocity_does() {
    let corpus: Corpus = serde_json::from_str(CORPUS).expect("corpus.json parses");
    let golden: Golden = serde_json::from_str(GOLDEN).expect("golden.json parses");
    let mut compared = 0;
    let mut identical = 0;
    let mut known = Vec::new();
    let mut mismatches = Vec::new();
    for case in &corpus.cases {
        let Some(expected) = golden.results.get(&case.id) else {
            mismatches.push(format!(
                "{}: no golden result (regenerate golden.json)",
                case.id
            ));
            continue;
        };
        if let Some(reason) = &case.known_difference {
            assert!(
                !reason.trim().is_empty(),
                "{}: a known difference needs its reason",
                case.id
            );
            known.push(case.id.as_str());
            continue;
        }
        compared += 1;
        let got = render(case);
        let ok = match (&expected.output, &expected.error, &got) {
            (Some(want), _, Ok(out)) => want == out,
            (_, Some(err), Err(class)) => err.class.rsplit('.').next() == Some(class.as_str()),
            _ => false,
        };
        if ok {
            identical += 1;
        } else {
            let want = match (&expected.output, &expected.error) {
                (Some(out), _) => format!("{out:?}"),
                (_, Some(e)) => format!("error {}", e.class),
                _ => "nothing".into(),
            };
            let got = match &got {
                Ok(out) => format!("{out:?}"),
                Err(class) => format!("error {class}"),
            };
            mismatches.push(format!(
                "{} [{}]\n    template: {:?}\n    velocity: {want}\n    crate:    {got}",
                case.id, case.oracle, case.template
            ));
        }
    }
    println!(
        "velocity corpus: {} cases, {compared} compared, {identical} identical, {} known differences",
        corpus.cases.len(),
        known.len()
    );
    assert!(
        compared >= 200,
        "the differential suite compares at least 200 cases ({compared})"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} cases differ from Apache Velocity:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
