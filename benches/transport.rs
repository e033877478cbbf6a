//! Per-request cost of `Client` + transport against a bare `reqwest::Client` hitting the
//! same local server (the testkit's fake), at concurrency 1 and 64.
//!
//! `cargo bench --bench transport`; figures go in docs/PERFORMANCE.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use genesys_cloud::testkit::FakeGenesys;
use genesys_cloud::{Client, Method};

const ORG: &str = "/api/v2/organizations/me";

async fn sdk_get(client: &Client) {
    let org: serde_json::Value = client.request(Method::GET, ORG).send().await.unwrap();
    assert!(org.is_object());
}

async fn bare_get(http: &reqwest::Client, url: &str, token: &str) {
    let org: serde_json::Value = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(org.is_object());
}

fn transport(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(FakeGenesys::builder().record_requests(false).start());
    let client = fake.client().unwrap();
    let token = rt.block_on(client.auth().token()).unwrap();
    let token = token.expose_secret().to_owned();
    let http = reqwest::Client::new();
    let url = format!("{}{ORG}", fake.uri());
    rt.block_on(sdk_get(&client));

    let mut group = c.benchmark_group("get_org");
    for concurrency in [1usize, 64] {
        group.throughput(Throughput::Elements(concurrency as u64));
        group.bench_with_input(
            BenchmarkId::new("bare_reqwest", concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt)
                    .iter(|| join_all((0..n).map(|_| bare_get(&http, &url, &token))));
            },
        );
        group.bench_with_input(
            BenchmarkId::new("genesys_client", concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt)
                    .iter(|| join_all((0..n).map(|_| sdk_get(&client))));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, transport);
criterion_main!(benches);
