//! Flow 2: widget validation and the client-app integration lifecycle against the fake.

use std::time::Duration;

use futures::TryStreamExt;
use genesys_cloud::integrations::{
    DeploymentOutcome, IntendedState, SandboxPolicy, StateCode, WidgetKind, WidgetSpec,
    WidgetSpecBuilder,
};
use genesys_cloud::observe::{AuditOutcome, MemoryAuditSink};
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock};
use genesys_cloud::transport::PollPolicy;
use genesys_cloud::{Client, Method, ValidationError};
use serde_json::json;

const CONFIG: &str = "/api/v2/integrations/{integrationId}/config/current";
const INTEGRATION: &str = "/api/v2/integrations/{integrationId}";

fn policy() -> SandboxPolicy {
    SandboxPolicy::default()
        .allow_host("s3.amazonaws.com")
        .allow_host("*.cloudfront.net")
}

fn widget(name: &str) -> WidgetSpecBuilder {
    WidgetSpec::builder(
        name,
        "https://d111abcdef8.cloudfront.net/widget/index.html?conversation={{gcConversationId}}",
    )
}

fn refused(builder: WidgetSpecBuilder, policy: &SandboxPolicy) -> ValidationError {
    builder.build(policy).expect_err("the spec must be refused")
}

// ---- validation ----

#[test]
fn a_policy_limit_of_zero_is_an_error() {
    let err = WidgetSpec::builder("w", "https://cdn.example.com/w/")
        .build(
            &SandboxPolicy::default()
                .allow_host("cdn.example.com")
                .max_frame(0, 600),
        )
        .unwrap_err();
    assert!(err.has("policy.limits", "min"), "{err}");
}

#[test]
fn tutorial_widget_is_valid_and_maps_to_real_properties() {
    let spec = WidgetSpec::builder(
        "Agent Dashboard Widget",
        "https://s3.amazonaws.com/my-bucket/widget/index.html",
    )
    .kind(WidgetKind::Widget)
    .notes("Custom metrics display for agent desktop")
    .dimensions(750, 500)
    .permissions(["clipboard-write"])
    .build(&policy())
    .unwrap();
    assert_eq!(spec.integration_type(), "embedded-client-app");
    assert_eq!(
        spec.properties(),
        json!({
            "url": "https://s3.amazonaws.com/my-bucket/widget/index.html",
            "sandbox": "allow-scripts,allow-same-origin,allow-forms,allow-modals",
            "permissions": "clipboard-write",
            "groups": [],
            "displayType": "widget",
            "featureCategory": "",
        })
    );
}

#[test]
fn interaction_widget_properties() {
    let queue = "4d6e8f0a-1b2c-4d3e-9f5a-6b7c8d9e0f1a";
    let spec = widget("Assist")
        .queues([queue])
        .communication_types(["call", "webmessaging"])
        .icon("https://cdn.cloudfront.net/icon.svg")
        .build(&policy())
        .unwrap();
    let p = spec.properties();
    assert_eq!(p["queueIdFilterList"], json!([queue]));
    assert_eq!(p["communicationTypeFilter"], "call,webmessaging");
    assert!(p.get("displayType").is_none());
    assert_eq!(
        spec.advanced(),
        json!({"icon": {"vector": "https://cdn.cloudfront.net/icon.svg"}})
    );
}

#[test]
fn name_is_required_and_bounded() {
    let err = refused(
        WidgetSpec::builder("  ", "https://s3.amazonaws.com/w"),
        &policy(),
    );
    assert!(err.has("name", "required"), "{err}");
    let err = refused(
        WidgetSpec::builder("n".repeat(201), "https://s3.amazonaws.com/w"),
        &policy(),
    );
    assert!(err.has("name", "max_length"), "{err}");
}

#[test]
fn url_must_be_https_absolute_and_credential_free() {
    for (url, rule) in [
        ("", "required"),
        ("http://s3.amazonaws.com/w", "https"),
        ("widget/index.html", "url"),
        ("https://user:pw@s3.amazonaws.com/w", "credentials_in_url"),
        ("javascript:alert(1)", "https"),
    ] {
        let err = refused(WidgetSpec::builder("w", url), &policy());
        assert!(err.has("url", rule), "{url}: {err}");
    }
}

#[test]
fn wildcard_hosts_match_subdomains_at_any_depth_but_not_the_domain_or_look_alikes() {
    let policy = SandboxPolicy::default().allow_host("*.example.com");
    for ok in [
        "https://a.example.com/w",
        "https://a.b.c.example.com/w",
        "https://A.Example.COM./w",
    ] {
        assert!(WidgetSpec::builder("w", ok).build(&policy).is_ok(), "{ok}");
    }
    for bad in [
        "https://example.com/w",
        "https://badexample.com/w",
        "https://example.com.evil.net/w",
        "https://evil.net/a.example.com",
    ] {
        let err = refused(WidgetSpec::builder("w", bad), &policy);
        assert!(err.has("url", "host_not_allowed"), "{bad}: {err}");
    }
    let idn = SandboxPolicy::default().allow_host("*.bücher.example");
    assert!(
        WidgetSpec::builder("w", "https://shop.xn--bcher-kva.example/")
            .build(&idn)
            .is_ok()
    );
    let err = refused(
        WidgetSpec::builder("w", "https://x.y/"),
        &SandboxPolicy::default().allow_host("*.com"),
    );
    assert!(err.has("policy.allowed_hosts", "host_pattern"), "{err}");
}

#[test]
fn sandbox_tokens_and_permissions_come_from_the_known_sets() {
    let err = refused(
        widget("w")
            .sandbox(["allow-scripts", "allow-top-navigation"])
            .permissions(["usb"]),
        &policy(),
    );
    assert!(err.has("sandbox", "unknown_token"), "{err}");
    assert!(err.has("permissions", "unknown_token"), "{err}");
    let narrow = policy()
        .sandbox_tokens(["allow-scripts"])
        .permission_features(["camera"]);
    let err = refused(
        widget("w")
            .sandbox(["allow-scripts", "allow-popups"])
            .permissions(["microphone"]),
        &narrow,
    );
    assert!(err.has("sandbox", "not_allowed"), "{err}");
    assert!(err.has("permissions", "not_allowed"), "{err}");
}

#[test]
fn ids_filters_and_dimensions_are_checked() {
    let err = refused(
        widget("w")
            .groups(["not-a-uuid"])
            .queues(["../x"])
            .communication_types(["fax"])
            .dimensions(801, 601),
        &policy(),
    );
    assert!(err.has("groups[0]", "uuid"), "{err}");
    assert!(err.has("queues[0]", "uuid"), "{err}");
    assert!(err.has("communication_types", "unknown_token"), "{err}");
    assert!(err.has("dimensions.width", "max_width"), "{err}");
    assert!(err.has("dimensions.height", "max_height"), "{err}");
    let err = refused(
        widget("w")
            .kind(WidgetKind::Standalone)
            .communication_types(["call"]),
        &policy(),
    );
    assert!(
        err.has("communication_types", "interaction_widget_only"),
        "{err}"
    );
}

#[test]
fn configuration_over_10_kib_is_refused() {
    let groups: Vec<String> = (0..300).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let err = refused(widget("w").groups(groups), &policy());
    assert!(err.has("config", "max_config_bytes"), "{err}");
}

#[test]
fn every_violation_at_once() {
    let err = refused(
        WidgetSpec::builder("", "http://badexample.com/w")
            .sandbox(["allow-everything"])
            .dimensions(0, 900),
        &SandboxPolicy::default().allow_host("*.example.com"),
    );
    for (field, rule) in [
        ("name", "required"),
        ("url", "https"),
        ("url", "host_not_allowed"),
        ("sandbox", "unknown_token"),
        ("dimensions.width", "max_width"),
        ("dimensions.height", "max_height"),
    ] {
        assert!(err.has(field, rule), "{field} {rule}: {err}");
    }
}

// ---- lifecycle against the fake ----

fn fast_client(fake: &FakeGenesys) -> (Client, ManualClock) {
    let clock = ManualClock::new();
    (
        fake.client_builder().clock(clock.clone()).build().unwrap(),
        clock,
    )
}

fn spec(url_path: &str) -> WidgetSpec {
    WidgetSpec::builder(
        "Agent Dashboard Widget",
        format!("https://d111.cloudfront.net/{url_path}"),
    )
    .kind(WidgetKind::InteractionWidget)
    .permissions(["clipboard-write"])
    .build(&policy())
    .unwrap()
}

#[tokio::test]
async fn deploy_creates_configures_enables_and_waits_until_active() {
    let fake = FakeGenesys::start().await;
    fake.set_activation_polls(2);
    let (client, _clock) = fast_client(&fake);
    let report = client.integrations().deploy(&spec("v1")).await.unwrap();

    assert!(report.created);
    assert_eq!(report.outcome, DeploymentOutcome::Succeeded);
    let steps: Vec<_> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, ["find", "create", "configure", "enable", "activate"]);

    let integration = client
        .integrations()
        .get(&report.integration_id)
        .await
        .unwrap();
    assert_eq!(integration.state(), Some(StateCode::Active));
    assert_eq!(integration.intended_state, Some(IntendedState::Enabled));
    assert_eq!(
        integration.type_id(),
        Some("embedded-client-app-interaction-widget")
    );
    let config = client
        .integrations()
        .config(&report.integration_id)
        .await
        .unwrap();
    assert_eq!(config.version, 2);
    assert_eq!(
        config.properties["sandbox"],
        "allow-scripts,allow-same-origin,allow-forms,allow-modals"
    );
    assert_eq!(config.properties["permissions"], "clipboard-write");

    let create = fake.requests_to(Method::POST, "/api/v2/integrations");
    assert_eq!(
        create[0].json(),
        json!({"name": "Agent Dashboard Widget", "integrationType": {"id": "embedded-client-app-interaction-widget"}})
    );
    let path = format!("/api/v2/integrations/{}", report.integration_id);
    assert_eq!(
        fake.requests_to(Method::PATCH, &path)[0].json(),
        json!({"intendedState": "ENABLED"})
    );
    let put = &fake.requests_to(Method::PUT, &format!("{path}/config/current"))[0];
    let body = put.json();
    for field in [
        "name",
        "version",
        "properties",
        "advanced",
        "notes",
        "credentials",
    ] {
        assert!(
            body.get(field).is_some(),
            "the config PUT carries {field}: {body}"
        );
    }
    assert!(
        fake.requests_to(Method::GET, &path).len() >= 3,
        "polled until active"
    );
}

#[tokio::test]
async fn redeploying_the_same_name_updates_instead_of_creating_a_twin() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = fast_client(&fake);
    let first = client.integrations().deploy(&spec("v1")).await.unwrap();
    let second = client.integrations().deploy(&spec("v2")).await.unwrap();
    assert!(!second.created);
    assert_eq!(first.integration_id, second.integration_id);
    assert_eq!(fake.integrations().len(), 1);
    let config = client
        .integrations()
        .config(&second.integration_id)
        .await
        .unwrap();
    assert_eq!(config.properties["url"], "https://d111.cloudfront.net/v2");
    assert_eq!(config.version, 3);
    assert_eq!(
        fake.requests_to(Method::POST, "/api/v2/integrations").len(),
        1
    );
}

#[tokio::test]
async fn failure_at_configure_rolls_back() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = fast_client(&fake);
    fake.inject_on(Method::PUT, CONFIG, Fault::Status(400), 1);
    let err = client.integrations().deploy(&spec("v1")).await.unwrap_err();
    assert_eq!(err.failed_step(), Some("configure"));
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("rolled back"), "{err}");
    assert!(fake.integrations().is_empty(), "no orphan left behind");
}

#[tokio::test]
async fn failure_at_enable_rolls_back() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = fast_client(&fake);
    fake.inject_on(Method::PATCH, INTEGRATION, Fault::Status(403), 1);
    let err = client.integrations().deploy(&spec("v1")).await.unwrap_err();
    assert_eq!(err.failed_step(), Some("enable"));
    assert!(
        err.step_error()
            .is_some_and(|source| source.status() == Some(403)),
        "{err:?}"
    );
    assert!(fake.integrations().is_empty());
}

#[tokio::test]
async fn activation_timeout_rolls_back() {
    let fake = FakeGenesys::start().await;
    fake.set_activation_polls(1_000);
    let (client, clock) = fast_client(&fake);
    let deployer = client
        .integrations()
        .deployer()
        .activation(PollPolicy::default().timeout(Duration::from_secs(20)));
    let err = deployer.deploy(&spec("v1")).await.unwrap_err();
    assert_eq!(err.failed_step(), Some("activate"));
    assert!(err.to_string().contains("had not finished"), "{err}");
    assert!(clock.total_slept() <= Duration::from_secs(20));
    assert!(fake.integrations().is_empty());
}

#[tokio::test]
async fn without_rollback_the_integration_is_left_and_named() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = fast_client(&fake);
    fake.inject_on(Method::PUT, CONFIG, Fault::Status(400), 1);
    let deployer = client.integrations().deployer().rollback_on_failure(false);
    let err = deployer.deploy(&spec("v1")).await.unwrap_err();
    assert_eq!(fake.integrations().len(), 1);
    let id = fake.integrations()[0]["id"].as_str().unwrap().to_owned();
    assert!(err.to_string().contains("left in place"), "{err}");
    // Named where ids belong (the report, the audit record), not in the error's text.
    assert!(!err.to_string().contains(&id), "{err}");
    assert_eq!(deployer.history()[0].integration_id, id);
}

#[tokio::test]
async fn a_failed_redeploy_never_deletes_the_existing_integration() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = fast_client(&fake);
    client.integrations().deploy(&spec("v1")).await.unwrap();
    fake.inject_on(Method::PUT, CONFIG, Fault::Status(400), 1);
    let err = client.integrations().deploy(&spec("v2")).await.unwrap_err();
    assert!(err.to_string().contains("left as it was"), "{err}");
    assert_eq!(fake.integrations().len(), 1);
}

#[tokio::test]
async fn config_version_conflict_is_resolved_by_rereading() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = fast_client(&fake);
    fake.inject_on(Method::PUT, CONFIG, Fault::Status(409), 2);
    let report = client.integrations().deploy(&spec("v1")).await.unwrap();
    let path = format!(
        "/api/v2/integrations/{}/config/current",
        report.integration_id
    );
    assert_eq!(fake.requests_to(Method::PUT, &path).len(), 3);
    assert_eq!(
        fake.requests_to(Method::GET, &path).len(),
        3,
        "re-read before each re-apply"
    );
    assert_eq!(
        client
            .metrics_snapshot()
            .counter("integrations.config_conflicts"),
        2
    );

    fake.inject_on(Method::PUT, CONFIG, Fault::Status(409), 10);
    let err = client.integrations().deploy(&spec("v2")).await.unwrap_err();
    assert_eq!(err.failed_step(), Some("configure"));
    assert_eq!(err.status(), Some(409));
}

#[tokio::test]
async fn rate_limited_enable_is_retried() {
    let fake = FakeGenesys::start().await;
    let (client, clock) = fast_client(&fake);
    fake.inject_on(
        Method::PATCH,
        INTEGRATION,
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(4)),
        },
        2,
    );
    let report = client.integrations().deploy(&spec("v1")).await.unwrap();
    assert_eq!(report.outcome, DeploymentOutcome::Succeeded);
    let patch = format!("/api/v2/integrations/{}", report.integration_id);
    assert_eq!(fake.requests_to(Method::PATCH, &patch).len(), 3);
    assert_eq!(
        clock
            .sleeps()
            .iter()
            .filter(|d| **d == Duration::from_secs(4))
            .count(),
        2
    );
}

#[tokio::test]
async fn list_pages_through_every_integration() {
    let fake = FakeGenesys::start().await;
    for i in 0..250 {
        fake.seed_integration(&format!("app {i:03}"), "embedded-client-app");
    }
    let client = fake.client().unwrap();
    let all: Vec<_> = client.integrations().list().try_collect().await.unwrap();
    assert_eq!(all.len(), 250);
    let listed = fake
        .requests()
        .iter()
        .filter(|r| r.method == Method::GET && r.path == "/api/v2/integrations")
        .count();
    assert_eq!(listed, 3, "100 + 100 + 50");
    let types: Vec<_> = client.integrations().types().try_collect().await.unwrap();
    assert!(types
        .iter()
        .any(|t| t.id == "embedded-client-app-interaction-widget"));
}

#[tokio::test]
async fn disable_and_delete() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = fast_client(&fake);
    let report = client.integrations().deploy(&spec("v1")).await.unwrap();
    let disabled = client
        .integrations()
        .disable(&report.integration_id)
        .await
        .unwrap();
    assert_eq!(disabled.intended_state, Some(IntendedState::Disabled));
    assert_eq!(disabled.state(), Some(StateCode::Inactive));
    client
        .integrations()
        .delete(&report.integration_id)
        .await
        .unwrap();
    let err = client
        .integrations()
        .get(&report.integration_id)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    let err = client.integrations().get("..").await.unwrap_err();
    assert!(
        err.validation()
            .is_some_and(|v| v.has("integrationId", "path_segment")),
        "{err}"
    );
    let err = client
        .integrations()
        .get("../../users/me")
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(404),
        "the id stays one encoded segment: {err}"
    );
}

#[tokio::test]
async fn telemetry_reports_stats_history_and_audit() {
    let fake = FakeGenesys::start().await;
    let audit = MemoryAuditSink::new();
    let client = fake
        .client_builder()
        .clock(ManualClock::new())
        .audit_sink(audit.clone())
        .build()
        .unwrap();
    let deployer = client.integrations().deployer();
    deployer.deploy(&spec("v1")).await.unwrap();
    fake.inject_on(Method::PATCH, INTEGRATION, Fault::Status(400), 1);
    let other = WidgetSpec::builder("Second", "https://d111.cloudfront.net/x")
        .build(&policy())
        .unwrap();
    deployer.deploy(&other).await.unwrap_err();

    let stats = deployer.stats();
    assert_eq!(
        (
            stats.deploys,
            stats.succeeded,
            stats.failed,
            stats.rollbacks
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(stats.success_rate, Some(0.5));
    assert!(stats.p95_ms >= stats.mean_ms * 0.5);

    let history = deployer.history();
    assert_eq!(history.len(), 2);
    assert!(matches!(
        history[1].outcome,
        DeploymentOutcome::Failed {
            step: "enable",
            rolled_back: true,
            ..
        }
    ));
    let steps: Vec<_> = history[1].steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, ["find", "create", "configure", "enable", "rollback"]);

    let report = deployer.audit_report();
    assert_eq!(report["stats"]["deploys"], 2);
    assert_eq!(report["deployments"][0]["outcome"]["status"], "succeeded");
    assert!(report["deployments"][0]["totalMs"].as_f64().unwrap() > 0.0);
    assert!(report["deployments"][0]["steps"][0]["ms"].is_number());

    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].outcome, AuditOutcome::Success);
    assert_eq!(records[1].outcome, AuditOutcome::Failure);
    assert_eq!(records[1].status, Some(400));
}

// ---- the fake's own rules for client-app configurations ----

/// `PUT .../config/current` on a fresh integration of `type_id`, with `properties`.
async fn put_properties(
    fake: &FakeGenesys,
    type_id: &str,
    properties: serde_json::Value,
) -> Result<serde_json::Value, genesys_cloud::Error> {
    let id = fake.seed_integration("Widget", type_id);
    fake.client()
        .unwrap()
        .request(
            Method::PUT,
            &format!("/api/v2/integrations/{id}/config/current"),
        )
        .json(&json!({
            "name": "Widget", "version": 1, "notes": "", "credentials": {}, "advanced": {},
            "properties": properties,
        }))
        .send()
        .await
}

/// The `(fieldName, errorCode)` pairs of a 400's details.
fn refused_fields(err: &genesys_cloud::Error) -> Vec<(String, String)> {
    let api = err.api().expect("an API error");
    assert_eq!(api.status(), 400, "{err}");
    api.body()
        .unwrap()
        .details
        .iter()
        .map(|d| {
            (
                d.field_name.clone().unwrap_or_default(),
                d.error_code.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_fake_accepts_a_configuration_genesys_publishes() {
    // GenesysCloudBlueprints/digital-messaging-translator-blueprint,
    // blueprint/terraform/modules/integration/integration.tf: `permissions: null` and a
    // filter with a space after the comma.
    let fake = FakeGenesys::start().await;
    let config = put_properties(
        &fake,
        "embedded-client-app-interaction-widget",
        json!({
            "sandbox": "allow-scripts,allow-same-origin,allow-forms,allow-modals",
            "groups": ["6f9c1c3e-0000-4000-8000-000000000001"],
            "communicationTypeFilter": "chat, webmessaging",
            "queueIdFilterList": ["6f9c1c3e-0000-4000-8000-000000000002"],
            "url": "https://localhost/?conversationid={{pcConversationId}}&language={{pcLangTag}}",
            "permissions": null
        }),
    )
    .await
    .expect("a Genesys blueprint's configuration is accepted");
    assert_eq!(config["version"], 2);
}

#[tokio::test]
async fn the_fake_refuses_what_the_platform_docs_refuse() {
    let fake = FakeGenesys::start().await;
    let err = put_properties(
        &fake,
        "embedded-client-app",
        json!({
            "url": "http://app.example.com/",
            "sandbox": "allow-scripts,allow-top-navigation",
            "permissions": "camera,usb",
            "displayType": "overlay",
            "groups": "not-a-list",
        }),
    )
    .await
    .unwrap_err();
    let mut fields = refused_fields(&err);
    fields.sort();
    let expected: Vec<(String, String)> = [
        "properties.displayType",
        "properties.groups",
        "properties.permissions",
        "properties.sandbox",
        "properties.url",
    ]
    .iter()
    .map(|f| ((*f).to_owned(), "invalid.value".to_owned()))
    .collect();
    assert_eq!(fields, expected);

    // IntegrationConfiguration's required fields (the Python SDK's model docs).
    let id = fake.seed_integration("Widget", "embedded-client-app");
    let err = fake
        .client()
        .unwrap()
        .request(
            Method::PUT,
            &format!("/api/v2/integrations/{id}/config/current"),
        )
        .json(&json!({"name": " ", "version": 1, "properties": {"url": "https://a.example/"}}))
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    let mut fields: Vec<String> = refused_fields(&err).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    assert_eq!(fields, ["advanced", "credentials", "name", "notes"]);
}

#[tokio::test]
async fn the_fake_accepts_values_only_the_crate_refuses() {
    // No platform source lists the `communicationTypeFilter` tokens (Genesys's examples
    // show call, chat, email, webmessaging) or makes `displayType` required: the fake
    // accepts these, the crate's builder refuses the tokens it does not know.
    let err = refused(
        widget("w")
            .kind(WidgetKind::InteractionWidget)
            .communication_types(["callback"]),
        &policy(),
    );
    assert!(err.has("communication_types", "unknown_token"), "{err}");
    let fake = FakeGenesys::start().await;
    put_properties(
        &fake,
        "embedded-client-app-interaction-widget",
        json!({"url": "https://a.example/", "communicationTypeFilter": "callback,sms"}),
    )
    .await
    .expect("tokens no source refuses are accepted");
    put_properties(
        &fake,
        "embedded-client-app",
        json!({"url": "https://a.example/"}),
    )
    .await
    .expect("displayType is not documented as required");
}
