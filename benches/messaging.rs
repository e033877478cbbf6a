//! Validate, sanitize and serialize a 100-attribute participant patch.
//!
//! `cargo bench --bench messaging`; figures go in docs/PERFORMANCE.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use genesys_cloud::messaging::{AttributePatch, AttributeSchema, AttributeValue, KeySpec};

fn schema() -> AttributeSchema {
    (0..100).fold(AttributeSchema::new(), |s, i| {
        let spec = match i % 4 {
            0 => KeySpec::number(),
            1 => KeySpec::boolean(),
            _ => KeySpec::string().max_length(256),
        };
        s.key(format!("attribute_{i:03}"), spec)
    })
}

fn values(hostile: bool) -> Vec<(String, AttributeValue)> {
    (0..100)
        .map(|i| {
            let value = match i % 4 {
                0 => AttributeValue::Number(1250.5 + f64::from(i)),
                1 => AttributeValue::Boolean(i % 3 == 0),
                _ if hostile => AttributeValue::String(format!(
                    "<script>alert({i})</script><b onmouseover=steal()>REF-{i}</b> javascript:void(0)"
                )),
                _ => AttributeValue::String(format!("customer segment {i}: premium, renews 2027-01-{:02}", i % 28 + 1)),
            };
            (format!("attribute_{i:03}"), value)
        })
        .collect()
}

fn build_and_serialize(schema: &AttributeSchema, values: &[(String, AttributeValue)]) -> Vec<u8> {
    let patch = AttributePatch::builder(schema)
        .set_all(values.iter().cloned())
        .build()
        .expect("the bench patch is valid");
    serde_json::to_vec(&patch).expect("serializable")
}

fn messaging(c: &mut Criterion) {
    let schema = schema();
    let clean = values(false);
    let hostile = values(true);
    let mut group = c.benchmark_group("patch_100_attributes");
    group.bench_function("clean_values", |b| {
        b.iter(|| build_and_serialize(&schema, black_box(&clean)))
    });
    group.bench_function("every_string_with_markup", |b| {
        b.iter(|| build_and_serialize(&schema, black_box(&hostile)))
    });
    group.finish();
}

criterion_group!(benches, messaging);
criterion_main!(benches);
