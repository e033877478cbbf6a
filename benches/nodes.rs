//! Template render of the tutorial's body, and the local executor's cache-hit path.
//!
//! `cargo bench --bench nodes`; figures go in docs/PERFORMANCE.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use genesys_cloud::nodes::template::{Bindings, Template};
use genesys_cloud::nodes::{DataAction, LocalExecutor};
use genesys_cloud::testkit::FakeGenesys;
use serde_json::json;

/// The tutorial's body, written the Velocity way (as the platform renders it).
const BODY: &str = r#"{"resourceId": "$esc.jsonString(${input.targetId})", "data": "$!esc.jsonString($!{input.requestPayload})"}"#;

fn nodes(c: &mut Criterion) {
    let template = Template::parse(BODY).unwrap();
    let input = json!({"targetId": "ext-1001", "requestPayload": "{\"priority\": \"high\", \"note\": \"call back\"}"});
    c.bench_function("render_tutorial_body", |b| {
        b.iter(|| {
            template
                .render(&Bindings::new().input(black_box(&input)))
                .unwrap()
        })
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(FakeGenesys::builder().record_requests(false).start());
    let action = DataAction::builder("External System", "ExternalRESTNode", "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41")
        .input_schema(json!({
            "type": "object",
            "required": ["targetId"],
            "properties": {"targetId": {"type": "string"}, "requestPayload": {"type": "string"}}
        }))
        .success_schema(json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}))
        .request("POST", format!("{}/resources/$esc.uriEncode(${{input.targetId}})", fake.external_target_path()))
        .request_template(BODY)
        .translation("status", "$.status")
        .translation("resultId", "$.resultId")
        .success_template(r#"{"status": ${status}, "resultId": ${resultId}}"#)
        .build()
        .unwrap();
    let executor = LocalExecutor::new(fake.client().unwrap(), action);
    rt.block_on(executor.execute(&input)).unwrap();
    c.bench_function("executor_cache_hit", |b| {
        b.to_async(&rt)
            .iter(|| async { executor.execute(black_box(&input)).await.unwrap() })
    });
}

criterion_group!(benches, nodes);
criterion_main!(benches);
