//! Flow 5: the template engine, DataAction validation, the platform calls, the local
//! executor and the simulator.

use std::time::Duration;

use futures::TryStreamExt;
use genesys_cloud::nodes::simulator::Simulator;
use genesys_cloud::nodes::template::{Context, Inputs, Template, TemplateError};
use genesys_cloud::nodes::{DataAction, DataActionBuilder, LocalExecutor};
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock};
use genesys_cloud::{Client, Method, ValidationError};
use proptest::prelude::*;
use serde_json::{json, Value};

const INTEGRATION: &str = "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41";
const RESOURCES: &str = "/external/v1/resources/{targetId}";

fn render(template: &str, input: Value, context: Context) -> Result<String, TemplateError> {
    Template::parse(template)?.render(&Inputs(&input), context)
}

// ---- template engine ----

#[test]
fn json_bodies_escape_values_inside_strings_and_insert_json_outside() {
    let input = json!({"id": "a\"b\\c\nd", "n": 42, "flag": true, "name": "Zoë 🎉"});
    let body = render(
        r#"{"id": "${input.id}", "n": ${input.n}, "nested": {"flag": $input.flag, "name": "$!{input.name}", "raw": ${input.id}}}"#,
        input,
        Context::Json,
    )
    .unwrap();
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed["id"], "a\"b\\c\nd");
    assert_eq!(parsed["n"], 42);
    assert_eq!(parsed["nested"]["flag"], true);
    assert_eq!(parsed["nested"]["name"], "Zoë 🎉");
    assert_eq!(
        parsed["nested"]["raw"], "a\"b\\c\nd",
        "outside a string a string value is quoted"
    );
}

#[test]
fn quiet_references_render_empty_or_null() {
    let body = render(
        r#"{"a": "$!{input.missing}", "b": $!{input.missing}}"#,
        json!({}),
        Context::Json,
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"a": "", "b": null})
    );
    assert_eq!(
        render("x$!{input.missing}.y", json!({}), Context::Header).unwrap(),
        "x.y"
    );
    assert_eq!(
        render("x$!input.missing.y", json!({}), Context::Header).unwrap(),
        "x",
        "one reference: input.missing.y"
    );
}

#[test]
fn missing_inputs_are_all_named() {
    let err = render(
        "${input.b}/${input.a}/$input.c/${input.a}",
        json!({}),
        Context::Url,
    )
    .unwrap_err();
    assert_eq!(
        err,
        TemplateError::Missing(vec!["input.a".into(), "input.b".into(), "input.c".into()])
    );
}

#[test]
fn url_values_are_encoded_for_their_component() {
    let url = render(
        "https://api.example.com/v1/resources/${input.id}?q=${input.q}&page=${input.n}",
        json!({"id": "../admin?x=1#y", "q": "a b&c=d+e", "n": 2}),
        Context::Url,
    )
    .unwrap();
    assert_eq!(
        url,
        "https://api.example.com/v1/resources/..%2Fadmin%3Fx%3D1%23y?q=a%20b%26c%3Dd%2Be&page=2"
    );
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(
        parsed.path(),
        "/v1/resources/..%2Fadmin%3Fx%3D1%23y",
        "the value stays one segment"
    );
    for dots in [".", ".."] {
        let err = render(
            "https://x.example/a/${input.id}/b",
            json!({"id": dots}),
            Context::Url,
        )
        .unwrap_err();
        assert!(matches!(err, TemplateError::DotSegment(_)), "{dots}: {err}");
    }
}

#[test]
fn headers_refuse_line_breaks() {
    for value in ["a\r\nX-Injected: 1", "a\nb", "a\rb"] {
        let err = render(
            "Bearer ${input.token}",
            json!({"token": value}),
            Context::Header,
        )
        .unwrap_err();
        assert!(
            matches!(err, TemplateError::HeaderInjection(_)),
            "{value:?}: {err}"
        );
    }
}

#[test]
fn escape_tools() {
    let input = json!({"v": "a b/\"c\"&é"});
    assert_eq!(
        render("$esc.jsonString($input.v)", input.clone(), Context::Header).unwrap(),
        "a b/\\\"c\\\"&é"
    );
    assert_eq!(
        render("$esc.url(${input.v})", input.clone(), Context::Header).unwrap(),
        "a+b%2F%22c%22%26%C3%A9"
    );
    assert_eq!(
        render(
            "$esc.urlFormEncode(\"${input.v}\")",
            input.clone(),
            Context::Header
        )
        .unwrap(),
        "a+b%2F%22c%22%26%C3%A9"
    );
    assert_eq!(
        render("$esc.uriEncode($!{input.v})", input, Context::Header).unwrap(),
        "a%20b%2F%22c%22%26%C3%A9"
    );
    let body = render(
        r#"{"v": "$esc.jsonString($input.v)"}"#,
        json!({"v": "x\"y"}),
        Context::Json,
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["v"],
        "x\"y",
        "no double escaping"
    );
}

#[test]
fn tutorial_placeholders_are_an_alias() {
    let input = json!({"targetId": "T-1"});
    assert_eq!(
        render(
            "https://api.external-system.com/v1/resources/{{input.targetId}}",
            input.clone(),
            Context::Url
        )
        .unwrap(),
        "https://api.external-system.com/v1/resources/T-1"
    );
    assert_eq!(
        render("{{other}} {{ input.targetId }}", input, Context::Header).unwrap(),
        "{{other}} T-1"
    );
    assert!(
        render("{{input.targetId", json!({}), Context::Header).is_err(),
        "unclosed alias"
    );
}

#[test]
fn syntax_errors() {
    for (template, needle) in [
        ("https://x/${input.id", "unclosed `${`"),
        ("${}", "expected a name"),
        ("$!{", "expected a name"),
        ("$math.add(1, 2)", "unknown macro"),
        ("$esc.html($input.x)", "unknown macro"),
        ("$esc.url(42)", "argument"),
        ("$esc.url($input.x", "unclosed `(`"),
        ("$esc", "unknown macro"),
        ("#if($input.x)yes#end", "directive `#if`"),
        ("#{else}", "directive `#else`"),
    ] {
        let err = Template::parse(template).unwrap_err().to_string();
        assert!(err.contains(needle), "{template}: {err}");
    }
    // Not syntax: a lone `$`, `#` in a URL fragment, escaped `\$`.
    assert_eq!(
        render("$5 #section \\${input.x}", json!({}), Context::Header).unwrap(),
        "$5 #section ${input.x}"
    );
}

#[test]
fn rendered_json_must_parse() {
    let err = render(r#"{"a": ${input.x}"#, json!({"x": 1}), Context::Json).unwrap_err();
    assert!(matches!(err, TemplateError::InvalidJson(_)), "{err}");
}

proptest! {
    #[test]
    fn parsing_and_rendering_never_panic(template in ".{0,120}", value in ".{0,40}") {
        if let Ok(t) = Template::parse(&template) {
            let input = json!({"a": value, "b": value});
            for context in [Context::Url, Context::Header, Context::Json] {
                let _ = t.render(&Inputs(&input), context);
            }
        }
    }

    #[test]
    fn rendered_json_bodies_always_parse(
        a in ".{0,60}", b in any::<f64>(), c in any::<bool>(), d in ".{0,30}",
        skeleton in 0usize..4,
    ) {
        let templates = [
            r#"{"a": "${input.a}", "b": ${input.b}, "c": $input.c}"#,
            r#"{"nested": {"list": [${input.a}, "$!{input.d}", $!{input.missing}]}, "b": "${input.b}"}"#,
            r#"["$esc.jsonString($input.a)", ${input.c}, "x\"${input.d}\"y"]"#,
            r#"{"tutorial": "{{input.a}}", "data": {{input.d}}}"#,
        ];
        let input = json!({"a": a, "b": b, "c": c, "d": d});
        let rendered = render(templates[skeleton], input, Context::Json);
        match rendered {
            Ok(body) => prop_assert!(serde_json::from_str::<Value>(&body).is_ok(), "{}", body),
            Err(e) => prop_assert!(false, "render failed: {}", e),
        }
    }
}

// ---- DataAction validation ----

fn tutorial(url: &str) -> DataActionBuilder {
    DataAction::builder("External System", "ExternalRESTNode", INTEGRATION)
        .input_schema(json!({
            "type": "object",
            "required": ["targetId"],
            "properties": {
                "targetId": {"type": "string", "description": "External system identifier for dynamic URL path"},
                "authToken": {"type": "string"},
                "requestPayload": {"type": "string"}
            }
        }))
        .success_schema(json!({
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}, "resultId": {"type": "string"}}
        }))
        .request("POST", url)
        .header("Authorization", "Bearer $!{input.authToken}")
        .request_template(r#"{"resourceId": "${input.targetId}", "data": "$!{input.requestPayload}"}"#)
        .translation("status", "$.status")
        .translation("resultId", "$.resultId")
        .translation_default("resultId", "\"none\"")
        .success_template(r#"{"status": ${status}, "resultId": ${resultId}}"#)
        .timeout_seconds(10)
}

fn refused(builder: DataActionBuilder) -> ValidationError {
    builder.build().expect_err("the action must be refused")
}

#[test]
fn tutorial_action_serializes_as_post_action_input() {
    let action = tutorial("https://api.external-system.com/v1/resources/${input.targetId}")
        .build()
        .unwrap();
    let body = serde_json::to_value(&action).unwrap();
    assert_eq!(body["integrationId"], INTEGRATION);
    assert_eq!(body["config"]["request"]["requestType"], "POST");
    assert_eq!(
        body["config"]["request"]["requestUrlTemplate"],
        "https://api.external-system.com/v1/resources/${input.targetId}"
    );
    assert_eq!(
        body["config"]["response"]["translationMapDefaults"]["resultId"],
        "\"none\""
    );
    assert_eq!(body["config"]["timeoutSeconds"], 10);
    assert!(body["contract"]["input"]["inputSchema"]["properties"]["targetId"].is_object());
    assert_eq!(
        DataAction::from_platform(&body).unwrap().name(),
        "ExternalRESTNode",
        "round trip"
    );
}

#[test]
fn each_rule_of_an_action() {
    let url = "https://api.example.com/v1/${input.targetId}";
    let cases: Vec<(DataActionBuilder, &str, &str)> = vec![
        (tutorial(url).request("FETCH", url), "requestType", "method"),
        (tutorial("http://api.example.com/${input.targetId}"), "requestUrlTemplate", "https"),
        (tutorial("/v1/${input.targetId}"), "requestUrlTemplate", "absolute_url"),
        (tutorial("https://api.example.com/${input.nope}"), "requestUrlTemplate", "undeclared_input"),
        (tutorial("https://api.example.com/${credentials.key}"), "requestUrlTemplate", "unknown_reference"),
        (tutorial("https://api.example.com/${input.targetId"), "requestUrlTemplate", "template_syntax"),
        (tutorial(url).timeout_seconds(0), "timeoutSeconds", "range"),
        (tutorial(url).timeout_seconds(61), "timeoutSeconds", "range"),
        (tutorial(url).translation("bad", "$.[oops"), "translationMap.bad", "json_path"),
        (tutorial(url).translation_default("resultId", "none"), "translationMapDefaults.resultId", "json_literal"),
        (tutorial(url).translation_default("ghost", "1"), "translationMapDefaults.ghost", "no_translation"),
        (tutorial(url).success_template("{\"s\": ${nothing}}"), "successTemplate", "unknown_reference"),
        (tutorial(url).header("Accept", "text/xml"), "headers.Accept", "accept_json"),
        (tutorial(url).header("Bad Header", "x"), "headers.Bad Header", "header_name"),
        (tutorial(url).input_schema(json!({"type": "array"})), "contract.input.inputSchema", "object_schema"),
        (tutorial(url).success_schema(json!({"type": "object", "properties": {"a": {"type": "nope"}}})), "contract.output.successSchema", "schema"),
        (
            tutorial(url).input_schema(json!({"type": "object", "properties": {"targetId": {"type": "string"}, "obj": {"type": "object"}}})),
            "contract.input.inputSchema.properties.obj",
            "input_type",
        ),
        (
            tutorial(url).input_schema(json!({"type": "object", "properties": {"targetId": {"type": "string"}, "rawRequest": {"type": "string"}}})),
            "contract.input.inputSchema.properties.rawRequest",
            "reserved_input",
        ),
        (
            tutorial(url).input_schema(json!({"type": "object", "properties": {"targetId": {"type": "string"}, "1st": {"type": "string"}}})),
            "contract.input.inputSchema.properties.1st",
            "input_name",
        ),
        (
            tutorial(url).input_schema(json!({"type": "object", "required": ["targetId", "unused"], "properties": {"targetId": {"type": "string"}, "unused": {"type": "string"}}})),
            "contract.input.inputSchema.properties.unused",
            "unused_required_input",
        ),
        (DataAction::builder("", "n", INTEGRATION).request("GET", url), "category", "required"),
        (DataAction::builder("c", "n".repeat(257), INTEGRATION).request("GET", url), "name", "max_length"),
    ];
    for (builder, field, rule) in cases {
        let err = refused(builder);
        assert!(err.has(field, rule), "expected {field} {rule}: {err}");
    }
    // A documented required input may be unused; loopback targets may use plain http.
    let documented = tutorial(url).input_schema(json!({
        "type": "object", "required": ["targetId", "tenant"],
        "properties": {
            "targetId": {"type": "string"}, "authToken": {"type": "string"}, "requestPayload": {"type": "string"},
            "tenant": {"type": "string", "description": "routes the call upstream"}
        }
    }));
    assert!(documented.build().is_ok());
    assert!(tutorial("http://127.0.0.1:8080/${input.targetId}")
        .build()
        .is_ok());
}

#[test]
fn every_violation_at_once() {
    let err = refused(
        DataAction::builder("", "", "")
            .request("FETCH", "ftp://x/${input.ghost}")
            .timeout_seconds(99)
            .translation("x", "not a path"),
    );
    assert!(err.violations().len() >= 7, "{err}");
}

// ---- against the fake ----

fn action_for(fake: &FakeGenesys, path: &str) -> DataAction {
    tutorial(&format!("{}{path}", fake.external_target_path()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn draft_publish_execute_cycle() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let nodes = client.nodes();
    let action = action_for(&fake, "/resources/${input.targetId}");

    let draft = nodes.create_draft(&action).await.unwrap();
    assert!(draft.id.starts_with("custom_-_"), "{}", draft.id);
    assert_eq!(draft.version, 1);
    assert!(nodes.validate_draft(&draft.id).await.unwrap().valid);

    let renamed = tutorial(&format!(
        "{}/resources/${{input.targetId}}",
        fake.external_target_path()
    ))
    .timeout_seconds(20)
    .build()
    .unwrap();
    let updated = nodes.update_draft(&draft.id, &renamed).await.unwrap();
    assert_eq!(updated.version, 2);

    let tested = nodes
        .test_draft(&draft.id, &json!({"targetId": "T-9"}))
        .await
        .unwrap();
    assert!(tested.success, "{tested:?}");
    assert_eq!(
        tested.final_result,
        Some(json!({"status": "accepted", "resultId": "res-T-9"}))
    );

    let published = nodes.publish(&draft.id).await.unwrap();
    assert_eq!(published.id, draft.id);
    let publish = fake.requests_to(
        Method::POST,
        &format!("/api/v2/integrations/actions/{}/draft/publish", draft.id),
    );
    assert_eq!(
        publish[0].json(),
        json!({"version": 2}),
        "publish names the current draft version"
    );

    let output = nodes
        .execute(
            &draft.id,
            &json!({"targetId": "T-1", "requestPayload": "hello"}),
        )
        .await
        .unwrap();
    assert_eq!(output, json!({"status": "accepted", "resultId": "res-T-1"}));
    let got = nodes.get(&draft.id).await.unwrap();
    assert_eq!(got.config.unwrap()["timeoutSeconds"], 20);
    let all: Vec<_> = nodes.list().try_collect().await.unwrap();
    assert_eq!(all.len(), 1);
    nodes.delete(&draft.id).await.unwrap();
    assert_eq!(nodes.get(&draft.id).await.unwrap_err().status(), Some(404));
}

#[tokio::test]
async fn execute_failures_use_the_platform_error_shape() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let nodes = client.nodes();
    let draft = nodes
        .create_draft(&action_for(&fake, "/broken/${input.targetId}"))
        .await
        .unwrap();
    nodes.publish(&draft.id).await.unwrap();
    let err = nodes
        .execute(&draft.id, &json!({"targetId": "T-1"}))
        .await
        .unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.status(), 400);
    let details = &api.body().unwrap().details;
    assert_eq!(details[0].error_code.as_deref(), Some("ACTION.PROCESSING"));
    let err = nodes
        .execute(&draft.id, &json!({"nope": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "input breaking the contract");
    let err = nodes
        .execute(&draft.id, &json!("not an object"))
        .await
        .unwrap_err();
    assert!(err.validation().is_some(), "refused before sending");
}

fn executor(fake: &FakeGenesys, path: &str) -> (LocalExecutor, Client, ManualClock) {
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    (
        LocalExecutor::new(client.clone(), action_for(fake, path)),
        client,
        clock,
    )
}

#[tokio::test]
async fn executor_runs_against_the_target_and_retries_a_503() {
    let fake = FakeGenesys::start().await;
    let (exec, _client, clock) = executor(&fake, "/resources/${input.targetId}");
    fake.inject_on(Method::POST, RESOURCES, Fault::Status(503), 2);
    let output = exec
        .execute(&json!({"targetId": "T-1", "authToken": "tok"}))
        .await
        .unwrap();
    assert_eq!(output, json!({"status": "accepted", "resultId": "res-T-1"}));
    let sent = fake.requests_to(Method::POST, "/external/v1/resources/T-1");
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].json(), json!({"resourceId": "T-1", "data": ""}));
    assert_eq!(sent[2].auth_scheme.as_deref(), Some("Bearer"));
    assert_eq!(clock.sleeps().len(), 2);
}

#[tokio::test]
async fn a_contract_failure_is_not_retried_or_cached() {
    let fake = FakeGenesys::start().await;
    let (exec, _client, _clock) = executor(&fake, "/broken/${input.targetId}");
    for _ in 0..2 {
        let err = exec.execute(&json!({"targetId": "T-1"})).await.unwrap_err();
        assert!(
            err.contract_problems()
                .is_some_and(|problems| problems.iter().any(|p| p.contains("status"))),
            "{err:?}"
        );
    }
    assert_eq!(
        fake.requests_to(Method::POST, "/external/v1/broken/T-1")
            .len(),
        2,
        "one request per call"
    );
    assert_eq!(exec.cached(), 0);
}

#[tokio::test]
async fn cache_hits_expire_and_distinct_bodies_are_distinct_entries() {
    let fake = FakeGenesys::start().await;
    let (exec, client, clock) = executor(&fake, "/resources/${input.targetId}");
    let input = json!({"targetId": "T-1", "requestPayload": "a"});
    exec.execute(&input).await.unwrap();
    exec.execute(&input).await.unwrap();
    assert_eq!(
        fake.requests_to(Method::POST, "/external/v1/resources/T-1")
            .len(),
        1,
        "second call served from cache"
    );
    assert_eq!(client.metrics_snapshot().counter("nodes.cache_hits"), 1);

    exec.execute(&json!({"targetId": "T-1", "requestPayload": "b"}))
        .await
        .unwrap();
    assert_eq!(
        fake.requests_to(Method::POST, "/external/v1/resources/T-1")
            .len(),
        2,
        "same URL, other body"
    );
    assert_eq!(exec.cached(), 2);

    clock.advance(Duration::from_secs(301));
    exec.execute(&input).await.unwrap();
    assert_eq!(
        fake.requests_to(Method::POST, "/external/v1/resources/T-1")
            .len(),
        3,
        "expired after the TTL"
    );

    let small = LocalExecutor::new(
        client.clone(),
        action_for(&fake, "/resources/${input.targetId}"),
    )
    .cache_capacity(1);
    small.execute(&json!({"targetId": "A"})).await.unwrap();
    small.execute(&json!({"targetId": "B"})).await.unwrap();
    assert_eq!(small.cached(), 1, "bounded");
}

#[tokio::test]
async fn the_default_request_template_sends_the_input_object() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let action = DataAction::builder("c", "raw", INTEGRATION)
        .input_schema(json!({"type": "object", "properties": {"targetId": {"type": "string"}, "n": {"type": "integer"}}}))
        .success_schema(json!({"type": "object"}))
        .request("POST", format!("{}/resources/x", fake.external_target_path()))
        .build()
        .unwrap();
    let output = LocalExecutor::new(client, action)
        .execute(&json!({"targetId": "T", "n": 3}))
        .await
        .unwrap();
    assert_eq!(
        output["received"],
        json!({"targetId": "T", "n": 3}),
        "rawRequest is the input object"
    );
}

#[tokio::test]
async fn translation_map_defaults() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock).build().unwrap();
    let base = fake.external_target_path();
    let action = |default: Option<&str>| {
        let b = DataAction::builder("c", "n", INTEGRATION)
            .input_schema(json!({"type": "object", "properties": {"targetId": {"type": "string"}}}))
            .success_schema(json!({"type": "object"}))
            .request("GET", format!("{base}/resources/${{input.targetId}}"))
            .translation("status", "$.status")
            .translation("owner", "$.owner.name")
            .success_template(r#"{"status": ${status}, "owner": ${owner}}"#);
        match default {
            Some(d) => b.translation_default("owner", d),
            None => b,
        }
        .build()
        .unwrap()
    };
    let with_default = LocalExecutor::new(client.clone(), action(Some("\"nobody\"")));
    assert_eq!(
        with_default
            .execute(&json!({"targetId": "X"}))
            .await
            .unwrap(),
        json!({"status": "ok", "owner": "nobody"})
    );
    let without = LocalExecutor::new(client, action(None));
    let err = without
        .execute(&json!({"targetId": "X"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("translation `owner`"), "{err}");
}

#[tokio::test]
async fn simulator_answers_and_refuses_bad_payloads() {
    let fake = FakeGenesys::start().await;
    let (exec, _client, _clock) = executor(&fake, "/resources/${input.targetId}");
    let running = Simulator::new()
        .action("node", exec)
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/simulate/node", running.local_addr());
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let ok = post(r#"{"targetId": "T-5"}"#).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"status": "accepted", "resultId": "res-T-5"})
    );

    for (body, needle) in [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (r#"{"targetId": 5}"#, "input.targetId"),
        (r#"{}"#, "targetId"),
    ] {
        let answer = post(body).await.unwrap();
        assert_eq!(answer.status(), 400, "{body}");
        let problem: Value = answer.json().await.unwrap();
        assert!(
            problem["message"].as_str().unwrap().contains(needle),
            "{body}: {problem}"
        );
        assert_eq!(problem["code"], "bad.request");
    }
    let unknown = http
        .post(format!("http://{}/simulate/other", running.local_addr()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    running.shutdown();
}
