//! What the core crate's tests need of the description: a compact JSON of the sampled
//! operations for the fake to check requests against, the calls that send them, and a
//! sample of the Python SDK's own model documents with the round trip of each.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::desc::{Description, Operation};
use crate::emit_ops::{answer, arg_infos, Answer};
use crate::graph::{Features, Graph};
use crate::naming::ident;
use crate::synth::Synth;
use crate::types::Ty;
use crate::HEADER;

/// The value every string path argument of the sampled calls gets: a `/`, a space and a
/// non-ASCII letter, which must arrive percent-encoded as one segment.
pub const PATH_SAMPLE: &str = "a/b c-é";

fn find<'a>(desc: &'a Description, id: &str) -> Result<&'a Operation, String> {
    desc.operations
        .iter()
        .find(|o| o.id() == id)
        .ok_or_else(|| format!("sample operation {id} is not in the description"))
}

/// `tests/data/api-operations.json`: the sampled operations and the models of their bodies.
pub fn operations_json(
    desc: &Description,
    graph: &Graph,
    sample: &[String],
) -> Result<String, String> {
    let synth = Synth::new(desc, false);
    let mut ops = Vec::new();
    let mut body_roots = BTreeSet::new();
    for id in sample {
        let op = find(desc, id)?;
        let path_params: Vec<Value> = op
            .path_params
            .iter()
            .map(|p| json!({ "name": p.name }))
            .collect();
        let query: Vec<Value> = op
            .query_params
            .iter()
            .map(|p| json!({ "name": p.name, "type": p.ty, "required": p.required }))
            .collect();
        let headers: Vec<Value> = op
            .header_params
            .iter()
            .map(|p| json!({ "name": p.name, "required": p.required }))
            .collect();
        let body = match &op.body {
            Some(b) => {
                body_roots.extend(Ty::parse(&b.ty)?.models().into_iter().map(str::to_owned));
                json!({ "type": b.ty, "required": b.required })
            }
            None => Value::Null,
        };
        let answer = answer(op)?;
        let response = match (&op.returns, &answer) {
            (Some(_), Answer::Text) => json!("BEGIN:VCALENDAR"),
            (Some(ty), _) => synth.of_type(ty)?,
            (None, _) => Value::Null,
        };
        ops.push(json!({
            "id": id,
            "auth_schemes": op.auth.schemes,
            "method": op.method,
            "path": op.path,
            "path_params": path_params,
            "query": query,
            "headers": headers,
            "body": body,
            "response": response,
            "text": answer == Answer::Text,
        }));
    }
    let mut models = serde_json::Map::new();
    for name in graph.closure(&body_roots) {
        let fields: Vec<Value> = desc.models[&name]
            .fields
            .iter()
            .map(|f| json!({ "json": f.json, "type": f.ty, "enum": f.allowed, "required": f.required == Some(true) }))
            .collect();
        models.insert(name, Value::Array(fields));
    }
    let doc = json!({
        "source": format!("{} {} ({})", desc.source.package, desc.source.version, desc.source.registry),
        "operations": ops,
        "models": models,
    });
    serde_json::to_string_pretty(&doc)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| e.to_string())
}

/// A Rust expression for a parameter value of type `ty` in the sampled calls.
fn literal(ty: &Ty, path: bool) -> String {
    match ty {
        Ty::Int => "7".into(),
        Ty::Float => "1.5".into(),
        Ty::Bool => "true".into(),
        Ty::Date => "\"2024-01-31\"".into(),
        Ty::DateTime => "\"2024-01-31T09:30:00.000Z\"".into(),
        Ty::List(inner) => {
            let one = literal(inner, false);
            format!("[{one}, {one}]")
        }
        _ if path => format!("{PATH_SAMPLE:?}"),
        _ => "\"text\"".into(),
    }
}

fn raw_string(s: &str) -> String {
    let mut hashes = String::from("#");
    while s.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{s}\"{hashes}")
}

fn body_literal(desc: &Description, ty: &str) -> Result<String, String> {
    let parsed = Ty::parse(ty)?;
    if parsed == Ty::Str {
        return Ok("\"text\"".into());
    }
    let sample = Synth::new(desc, false).of_type(ty)?;
    let text = serde_json::to_string(&sample).map_err(|e| e.to_string())?;
    Ok(format!(
        "super::body::<{}>({})",
        parsed.rust("models::"),
        raw_string(&text)
    ))
}

/// `tests/api/calls.rs`: one call per sampled operation, every parameter set.
pub fn calls_rs(desc: &Description, sample: &[String]) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str(
        "\nuse genesys_cloud::api::{models, ApiExt};\nuse genesys_cloud::{Client, Error};\n\n\
         /// Sends every sampled operation once, with every parameter it has.\n\
         pub(crate) async fn call_all(client: &Client) -> Vec<(&'static str, Result<(), Error>)> {\n    \
         let api = client.api();\n    let mut out = Vec::new();\n",
    );
    for id in sample {
        let op = find(desc, id)?;
        let mut expr = format!("api.{}().{}(", op.group, ident(&op.name));
        let mut required = Vec::new();
        let mut setters = Vec::new();
        for arg in arg_infos(op)? {
            let lit = if arg.body {
                let ty = op.body.as_ref().map(|b| b.ty.as_str()).unwrap_or("object");
                body_literal(desc, ty)?
            } else {
                literal(&arg.ty, arg.path)
            };
            if arg.required {
                required.push(lit);
            } else {
                setters.push((arg.rust, lit));
            }
        }
        expr.push_str(&required.join(", "));
        expr.push(')');
        for (name, lit) in setters {
            let _ = write!(expr, "\n        .{name}({lit})");
        }
        let _ = writeln!(
            out,
            "    let answer = {expr}\n        .send()\n        .await;\n    out.push(({id:?}, answer.map(|_| ())));"
        );
    }
    out.push_str("    out\n}\n");
    Ok(out)
}

/// The documents of `codegen/sdk-documents.jsonl` (written by `codegen/sdk_documents.py`
/// with the official Python SDK): model name → the JSON the SDK's serializer made of an
/// instance with every attribute set.
pub fn parse_sdk_documents(jsonl: &str) -> Result<BTreeMap<String, Value>, String> {
    #[derive(serde::Deserialize)]
    struct Line {
        model: String,
        document: Value,
    }
    let mut out = BTreeMap::new();
    for (i, line) in jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line: Line = serde_json::from_str(line)
            .map_err(|e| format!("codegen/sdk-documents.jsonl:{}: {e}", i + 1))?;
        if out.insert(line.model.clone(), line.document).is_some() {
            return Err(format!(
                "codegen/sdk-documents.jsonl:{}: {} twice",
                i + 1,
                line.model
            ));
        }
    }
    Ok(out)
}

/// The models whose SDK documents the core crate's `tests/api.rs` round-trips: `count`
/// models spread evenly (by name) over those the sampled operations' groups compile (the
/// groups the core crate's dev-dependency on `genesys-cloud-api` enables), among those the
/// SDK documents have.
pub fn sample_models(
    desc: &Description,
    features: &Features,
    sample_operations: &[String],
    documents: &BTreeMap<String, Value>,
    count: usize,
) -> Result<Vec<String>, String> {
    let mut groups = BTreeSet::new();
    for id in sample_operations {
        groups.insert(find(desc, id)?.group.as_str());
    }
    let compiled: BTreeSet<&String> = groups
        .iter()
        .filter_map(|g| features.models.get(*g))
        .flatten()
        .filter(|m| documents.contains_key(*m))
        .collect();
    let compiled: Vec<&String> = compiled.into_iter().collect();
    if compiled.len() <= count {
        return Ok(compiled.into_iter().cloned().collect());
    }
    Ok((0..count)
        .map(|i| compiled[i * compiled.len() / count].clone())
        .collect())
}

/// `tests/data/sdk-documents.json`: the SDK's documents of the sampled models, one a line.
pub fn sdk_sample_json(
    desc: &Description,
    documents: &BTreeMap<String, Value>,
    models: &[String],
) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{{\"source\": {},\n\"documents\": {{",
        json!(format!(
            "{} {} ({}): ApiClient().sanitize_for_serialization, by codegen/sdk_documents.py",
            desc.source.package, desc.source.version, desc.source.registry
        ))
    );
    for (i, name) in models.iter().enumerate() {
        let doc = documents
            .get(name)
            .ok_or_else(|| format!("no SDK document for {name}"))?;
        let comma = if i + 1 < models.len() { "," } else { "" };
        let _ = writeln!(out, "{}: {doc}{comma}", json!(name));
    }
    out.push_str("}}\n");
    Ok(out)
}

/// `tests/api/model_cases.rs`: the round trip of each sampled model.
pub fn model_cases_rs(models: &[String]) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str("\nuse genesys_cloud::api::models;\n\nuse super::{round_trip, Case};\n\n");
    let _ = writeln!(
        out,
        "/// The sampled models (`codegen/config.json`'s `sample_models`), with their round trip.\npub(crate) static CASES: [Case; {}] = [",
        models.len()
    );
    for name in models {
        let _ = writeln!(out, "    ({name:?}, round_trip::<models::{name}>),");
    }
    out.push_str("];\n");
    out
}
