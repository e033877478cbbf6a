//! Flow 5: the template engine's API, the lint, JSONPath, DataAction validation and
//! round trips with real exported actions, the platform calls, the local executor and
//! the simulator. (How templates render is checked against Apache Velocity itself in
//! `tests/velocity.rs`.)

use std::time::Duration;

use futures::TryStreamExt;
use genesys_cloud::nodes::simulator::Simulator;
use genesys_cloud::nodes::template::{Bindings, Credentials, Template, TemplateError};
use genesys_cloud::nodes::{
    DataAction, DataActionBuilder, LintLevel, LocalExecutor, TranslationPath,
};
use genesys_cloud::testkit::{json_response, FakeGenesys, Fault, ManualClock};
use genesys_cloud::{Client, Method, ValidationError};
use proptest::prelude::*;
use serde_json::{json, Value};

const INTEGRATION: &str = "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41";
const RESOURCES: &str = "/external/v1/resources/{targetId}";

/// The tutorial's URL, header and body, written the Velocity way.
const TUTORIAL_PATH: &str = "/resources/$esc.uriEncode(${input.targetId})";
const TUTORIAL_HEADER: &str = "Bearer $!{input.authToken}";
const TUTORIAL_BODY: &str = r#"{"resourceId": "$esc.jsonString(${input.targetId})", "data": "$!esc.jsonString($!{input.requestPayload})"}"#;

fn render(template: &str, input: Value) -> Result<String, TemplateError> {
    Template::parse(template)?.render(&Bindings::new().input(&input))
}

// ---- template engine API ----

#[test]
fn values_are_written_as_the_platform_writes_them() {
    let input = json!({"id": "a\"b/c", "n": 2.0, "big": 1e7, "flag": true});
    // No escaping of its own: the author escapes where a value lands.
    assert_eq!(
        render(r#"{"id": "${input.id}"}"#, input.clone()).unwrap(),
        r#"{"id": "a"b/c"}"#
    );
    assert_eq!(
        render(r#"{"id": "$esc.jsonString(${input.id})"}"#, input.clone()).unwrap(),
        r#"{"id": "a\"b/c"}"#
    );
    assert_eq!(
        render(
            "/x/$esc.uriEncode(${input.id})?q=$esc.url($input.id)",
            input.clone()
        )
        .unwrap(),
        "/x/a%22b%2Fc?q=a%22b%2Fc"
    );
    // Java's number formatting.
    assert_eq!(
        render("$input.n $input.big $input.flag", input).unwrap(),
        "2.0 1.0E7 true"
    );
}

#[test]
fn missing_references_render_as_velocity_renders_them() {
    let input = json!({"present": "p"});
    assert_eq!(
        render(
            "${input.absent}|$!{input.absent}|$input.absent.length()|$!input.absent",
            input.clone()
        )
        .unwrap(),
        "${input.absent}||$input.absent.length()|"
    );
    // Quiet outside a JSON string renders nothing (not `null`).
    assert_eq!(
        render(r#"{"a": $!{input.absent}}"#, input).unwrap(),
        r#"{"a": }"#
    );
}

#[test]
fn raw_request_is_the_input_as_compact_json() {
    let input = json!({"b": "x\"y", "a": 1.5, "c": null});
    assert_eq!(
        render("${input.rawRequest}", input).unwrap(),
        r#"{"a":1.5,"b":"x\"y","c":null}"#,
        "serde_json's keys are sorted; Bindings::input_ordered keeps a document's order"
    );
}

#[test]
fn credentials_render_but_never_show() {
    let credentials = Credentials::new()
        .with("clientId", "my-client")
        .with("clientSecret", "s3cr3t-value");
    let t = Template::parse(
        r#"Basic $encoding.base64("${credentials.clientId}:${credentials.clientSecret}")"#,
    )
    .unwrap();
    let bindings = Bindings::new().credentials(&credentials);
    assert_eq!(
        t.render(&bindings).unwrap(),
        "Basic bXktY2xpZW50OnMzY3IzdC12YWx1ZQ=="
    );
    let shown = format!("{credentials:?} {bindings:?}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("my-client"),
        "{shown}"
    );
    assert!(shown.contains("clientSecret"), "names are shown: {shown}");
}

#[test]
fn errors_name_the_line_and_column_not_the_value() {
    let err = Template::parse("{\n  \"a\": ${input.x\n}").unwrap_err();
    match &err {
        TemplateError::Syntax { line, column, .. } => assert_eq!((*line, *column), (2, 8), "{err}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.exception(), "ParseErrorException");
    let err = render("ok\n$input.s.substring(20)", json!({"s": "secret-value"})).unwrap_err();
    assert_eq!(err.exception(), "MethodInvocationException");
    let text = err.to_string();
    assert!(text.starts_with("line 2, column 1:"), "{text}");
    assert!(
        text.contains("$input.s.substring(20)") && !text.contains("secret-value"),
        "{text}"
    );
    for (template, needle) in [
        ("#if($input.x)", "without `#end`"),
        ("a$", "a `$` at the end"),
        ("#end", "`#end` without"),
        ("#parse('x.vm')", ""),
    ] {
        let err = render(template, json!({})).unwrap_err();
        assert!(err.to_string().contains(needle), "{template}: {err}");
    }
}

#[test]
fn collections_holding_themselves_print_as_java_prints_them() {
    for (template, expected) in [
        (
            "#set($m = {})#set($x = $m.put('a', $m))$m",
            "{a=(this Map)}",
        ),
        (
            "#set($l = [])#set($x = $l.add($l))$l $l.contains($l)",
            "[(this Collection)] true",
        ),
    ] {
        assert_eq!(render(template, json!({})).unwrap(), expected);
    }
    // Cycles through two collections end (Java overflows its stack): no hang, no panic.
    let out = render(
        "#set($a = [])#set($b = [$a])#set($x = $a.add($b))$a.equals($b) $a",
        json!({}),
    )
    .unwrap();
    assert!(out.starts_with("false [[") && out.len() < 1000, "{out}");
}

#[test]
fn limits_stop_runaway_templates() {
    let err = render(
        "#foreach($i in [1..999999])#foreach($j in [1..999999])x#end#end",
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.exception(), "LimitExceeded", "{err}");
    let err = render("#macro(r)#r()#end#r()", json!({})).unwrap_err();
    assert_eq!(err.exception(), "MacroOverflowException", "{err}");
    let nested = "#if(true)".repeat(100) + &"#end".repeat(100);
    assert!(Template::parse(&nested).is_err(), "nesting is bounded");
}

proptest! {
    #[test]
    fn parsing_and_rendering_never_panic(
        template in r"([$#!{}()\[\].,:'\x22a-z0-9 \\\n\r\t=<>+*/%&|@_-]|é|😀|#set|#if|#end|#foreach|#macro|#define|#evaluate|\$input\.|\$esc\.|\$math\.|\$foreach|#else|#elseif|#break|#stop|\.\.|\[1\.\.3\]|in ){0,40}",
        value in ".{0,40}",
    ) {
        if let Ok(t) = Template::parse(&template) {
            let input = json!({"a": value, "b": 1.5, "c": [1, "x"], "d": {"k": value}});
            let _ = t.render(&Bindings::new().input(&input));
        }
    }

    #[test]
    fn escaped_json_bodies_always_parse(a in ".{0,60}", b in any::<f64>(), c in any::<bool>(), d in ".{0,30}") {
        let template = r#"{"a": "$esc.jsonString(${input.a})", "b": ${input.b}, "c": $input.c, "d": ["$!esc.jsonString($!{input.d})"]}"#;
        let body = render(template, json!({"a": a, "b": b, "c": c, "d": d})).unwrap();
        prop_assert!(serde_json::from_str::<Value>(&body).is_ok(), "{}", body);
    }
}

// ---- JSONPath as Genesys evaluates it ----

#[test]
fn translation_paths_follow_jayway() {
    // Examples from Genesys's documentation and Genesys-owned modules.
    let response = json!({
        "queue": {"id": "q-1", "name": "Sales"},
        "loyalty": {"tier": null},
        "orders": [{"id": "o-1", "open": true}, {"id": "o-2", "open": false}],
        "participants": [
            {"purpose": "customer", "externalContactId": "ec-1", "userId": null},
            {"purpose": "agent", "userId": "u-1"}
        ],
        "results": [{"data": [{"metric": "oWaiting", "stats": {"count": 3}}]}]
    });
    let eval = |p: &str| TranslationPath::parse(p).unwrap().evaluate(&response);
    assert_eq!(eval("$.queue.id"), Some(json!("q-1")));
    assert_eq!(
        eval("$.loyalty.tier"),
        Some(Value::Null),
        "null does not fall back to the default"
    );
    assert_eq!(
        eval("$.loyalty.level"),
        None,
        "fails to resolve: the default applies"
    );
    assert_eq!(
        eval("$.orders[?(@.open==true)].id"),
        Some(json!(["o-1"])),
        "one match is still an array"
    );
    assert_eq!(eval("$.orders[?(@.open==\"x\")].id"), Some(json!([])));
    assert_eq!(
        eval("$.participants[?(@.purpose=='customer' || @.purpose=='external')].externalContactId"),
        Some(json!(["ec-1"]))
    );
    assert_eq!(eval("$.participants[*].userId"), Some(json!([null, "u-1"])));
    assert_eq!(
        eval("$..data[?(@.metric==\"oWaiting\")].stats.count"),
        Some(json!([3]))
    );
    assert_eq!(eval("$.participants.length()"), Some(json!(2)));
    assert_eq!(
        eval("['queue']['name']"),
        Some(json!("Sales")),
        "no `$`, as a Genesys export writes it"
    );
    assert_eq!(
        eval("$.missing[?(@.a)].b"),
        None,
        "a missing property before a filter fails the path"
    );
}

// ---- DataAction: the tutorial, validation, the lint ----

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
        .header("Authorization", TUTORIAL_HEADER)
        .request_template(TUTORIAL_BODY)
        .translation("status", "$.status")
        .translation("resultId", "$.resultId")
        .translation_default("resultId", "\"none\"")
        .success_template(r#"{"status": ${status}, "resultId": ${resultId}}"#)
        .timeout_seconds(10)
}

fn refused(builder: DataActionBuilder) -> ValidationError {
    builder.build().expect_err("the action must be refused")
}

const TUTORIAL_URL: &str =
    "https://api.external-system.com/v1/resources/$esc.uriEncode(${input.targetId})";

#[test]
fn tutorial_action_serializes_as_post_action_input() {
    let action = tutorial(TUTORIAL_URL).build().unwrap();
    assert!(action.lint().is_empty());
    let body = serde_json::to_value(&action).unwrap();
    assert_eq!(body, action.to_platform());
    assert_eq!(body["integrationId"], INTEGRATION);
    assert_eq!(body["config"]["request"]["requestType"], "POST");
    assert_eq!(
        body["config"]["request"]["requestUrlTemplate"],
        TUTORIAL_URL
    );
    assert_eq!(
        body["config"]["response"]["translationMapDefaults"]["resultId"],
        "\"none\""
    );
    assert_eq!(body["config"]["timeoutSeconds"], 10);
    let again = DataAction::from_platform(&body).unwrap();
    assert_eq!(again.to_platform(), body, "round trip");
    assert!(again.lint().is_empty());
}

#[test]
fn tutorial_placeholders_are_sent_as_velocity_references() {
    let action =
        tutorial("https://api.external-system.com/v1/resources/$esc.uriEncode({{input.targetId}})")
            .request_template(r#"{"resourceId": "$esc.jsonString({{ input.targetId }})"}"#)
            .build()
            .unwrap();
    let sent = action.to_platform();
    assert_eq!(
        sent["config"]["request"]["requestUrlTemplate"],
        TUTORIAL_URL
    );
    assert_eq!(
        sent["config"]["request"]["requestTemplate"],
        r#"{"resourceId": "$esc.jsonString(${input.targetId})"}"#
    );
    let prepared = action.prepare(&json!({"targetId": "a b"})).unwrap();
    assert_eq!(
        prepared.url,
        "https://api.external-system.com/v1/resources/a%20b"
    );
    // Left in an action read from the platform, the placeholder is text there too.
    let mut imported = sent.clone();
    imported["config"]["request"]["requestUrlTemplate"] =
        json!("https://x.example/{{input.targetId}}");
    let read = DataAction::from_platform(&imported).unwrap();
    let finding = read
        .lint()
        .iter()
        .find(|f| f.rule == "tutorial_placeholder")
        .expect("found");
    assert!(finding.message.contains("${input.targetId}"), "{finding}");
}

#[test]
fn the_lint_names_template_position_and_fix() {
    let schema = json!({"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "n": {"type": "integer"}, "note": {"type": "string"}}});
    let base = || {
        DataAction::builder("c", "n", INTEGRATION)
            .input_schema(schema.clone())
            .request(
                "POST",
                "https://api.example.com/v1/items/$esc.uriEncode(${input.id})",
            )
            .request_template(r#"{"id": "$esc.jsonString(${input.id})", "n": ${input.n}}"#)
    };
    assert!(
        base().build().is_ok(),
        "escaped strings and a bare integer pass"
    );
    let cases: Vec<(DataActionBuilder, &str, &str, &str)> = vec![
        (
            base().request_template("{\n  \"id\": \"${input.id}\"\n}"),
            "requestTemplate",
            "json_string_unescaped",
            "2:10",
        ),
        (
            base().request_template(r#"{"id": ${input.id}}"#),
            "requestTemplate",
            "json_value_unquoted",
            "1:8",
        ),
        (
            base().request("GET", "https://api.example.com/v1/items/${input.id}"),
            "requestUrlTemplate",
            "url_unescaped",
            "1:34",
        ),
        (
            base().request_template(
                r#"{"note": "$esc.html($!{input.note})", "id": "$esc.jsonString(${input.id})"}"#,
            ),
            "requestTemplate",
            "json_string_unescaped",
            "1:11",
        ),
        (
            base().request_template(r#"{"id": "$esc.jsonString(${input.ghost})"}"#),
            "requestTemplate",
            "undeclared_input",
            "",
        ),
        (
            base().request("GET", "https://api.example.com/v1/items/$Input.id"),
            "requestUrlTemplate",
            "unknown_reference",
            "1:34",
        ),
        (
            base()
                .translation("s", "$.s")
                .success_template(r#"{"s": "${s}"}"#),
            "successTemplate",
            "translation_in_string",
            "1:8",
        ),
        (
            base()
                .translation("s", "$.s")
                .translation_default("s", "none"),
            "translationMapDefaults.s",
            "default_not_json",
            "",
        ),
        (
            base().translation_default("ghost", "1"),
            "translationMapDefaults.ghost",
            "no_translation",
            "",
        ),
        (
            base()
                .request_template(r#"{"n": ${input.n}}"#)
                .request("GET", "https://api.example.com/v1/items"),
            "contract.input.inputSchema.properties.id",
            "unused_required_input",
            "",
        ),
        (
            base().header("X-Meta", "$urlTool.optionalQueryParam('a', 'b')"),
            "headers.X-Meta",
            "not_emulated",
            "",
        ),
    ];
    for (builder, field, rule, position) in cases {
        let err = refused(builder);
        assert!(err.has(field, rule), "expected {field} {rule}: {err}");
        let message = err
            .violations()
            .iter()
            .find(|v| v.rule == rule)
            .map(|v| v.message.clone())
            .unwrap_or_default();
        assert!(
            message.contains(position),
            "{rule}: position {position} in {message}"
        );
    }
    // The fix is spelled out, for required and optional inputs.
    let err =
        refused(base().request_template(r#"{"id": "${input.id}", "note": "$!{input.note}"}"#));
    let text = err.to_string();
    assert!(text.contains("$esc.jsonString(${input.id})"), "{text}");
    assert!(text.contains("$!esc.jsonString($!{input.note})"), "{text}");
    assert!(text.contains(".trusted_input(\"id\")"), "{text}");
}

#[test]
fn trusted_inputs_and_warn_level_opt_out() {
    let builder = || {
        DataAction::builder("c", "n", INTEGRATION)
            .input_schema(json!({"type": "object", "properties": {"data": {"type": "string"}, "id": {"type": "string"}}}))
            .request("POST", "https://api.example.com/v1/contacts/${input.id}")
            .request_template("[{\"data\": {${input.data}}}]")
    };
    let err = refused(builder());
    assert!(
        err.has("requestTemplate", "json_value_unquoted")
            && err.has("requestUrlTemplate", "url_unescaped"),
        "{err}"
    );
    // A JSON fragment spliced on purpose, and an id the author controls.
    assert!(builder()
        .trusted_input("data")
        .trusted_input("id")
        .build()
        .is_ok());
    let warned = builder().lint_level(LintLevel::Warn).build().unwrap();
    let rules: Vec<&str> = warned.lint().iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["url_unescaped", "json_value_unquoted"]);
}

#[test]
fn each_rule_of_an_action() {
    let url = TUTORIAL_URL;
    let cases: Vec<(DataActionBuilder, &str, &str)> = vec![
        (tutorial(url).request("FETCH", url), "requestType", "method"),
        (tutorial("http://api.example.com/x"), "requestUrlTemplate", "https"),
        (tutorial("api.example.com/x"), "requestUrlTemplate", "absolute_url"),
        (tutorial("https://api.example.com/${input.targetId"), "requestUrlTemplate", "template_syntax"),
        (tutorial(url).timeout_seconds(0), "timeoutSeconds", "range"),
        (tutorial(url).timeout_seconds(61), "timeoutSeconds", "range"),
        (tutorial(url).translation("bad", "$.[oops"), "translationMap.bad", "json_path"),
        (tutorial(url).header("Accept", "text/xml"), "headers.Accept", "accept_json"),
        (tutorial(url).header("Bad Header", "x"), "headers.Bad Header", "header_name"),
        (tutorial(url).input_schema(json!({"type": "array"})), "contract.input.inputSchema", "object_schema"),
        (tutorial(url).success_schema(json!({"type": "string"})), "contract.output.successSchema", "object_schema"),
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
        (DataAction::builder("", "n", INTEGRATION).request("GET", url), "category", "required"),
        (DataAction::builder("c", "n", "").request("GET", url), "integrationId", "required"),
        (DataAction::builder("c", "n".repeat(257), INTEGRATION).request("GET", url), "name", "max_length"),
    ];
    for (builder, field, rule) in cases {
        let err = refused(builder);
        assert!(err.has(field, rule), "expected {field} {rule}: {err}");
    }
    // Loopback targets may use plain http; Genesys Cloud actions use a path; an array
    // output contract is allowed (Genesys exports have them).
    assert!(
        tutorial("http://127.0.0.1:8080/r/$esc.uriEncode(${input.targetId})")
            .build()
            .is_ok()
    );
    assert!(
        tutorial("/api/v2/conversations/$esc.uriEncode(${input.targetId})")
            .build()
            .unwrap()
            .calls_genesys_cloud()
    );
    assert!(tutorial(url)
        .success_template("${rawResult}")
        .success_schema(json!({"type": "array"}))
        .build()
        .is_ok());
}

#[test]
fn every_violation_at_once() {
    let err = refused(
        DataAction::builder("", "", "")
            .request("FETCH", "ftp://x/${input.ghost}")
            .timeout_seconds(99)
            .translation("x", "not a [path"),
    );
    assert!(err.violations().len() >= 7, "{err}");
}

// ---- real actions exported from Genesys orgs ----

/// Reads an export, checks `from_platform` accepts it and `to_platform` gives it back
/// unchanged (every field, including `integrationType` and `actionType`).
fn round_trip(file: &str) -> DataAction {
    let path = format!("{}/tests/velocity-oracle/actions/{file}", manifest_dir());
    let text = std::fs::read_to_string(&path).unwrap();
    let exported: Value = serde_json::from_str(&text).unwrap();
    let action = DataAction::from_platform(&exported).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(
        action.to_platform(),
        exported,
        "{file}: every field preserved"
    );
    assert_eq!(serde_json::to_value(&action).unwrap(), exported);
    action
}

macro_rules! real_actions {
    ($($test:ident => $file:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                round_trip($file);
            }
        )*
    };
}

real_actions! {
    round_trip_ani_blacklist_check_conversation => "ani-blacklist.Check-Conversation-For-PSTN-Leg.json",
    round_trip_apple_messages_get_events => "apple-messages-salesforce.GetEventsDataAction.json",
    round_trip_automated_callback_add_contact => "automated-callback.Add-contact-to-contact-list.json",
    round_trip_automated_callback_create_placeholder => "automated-callback.Create-placeholder-callback.json",
    round_trip_automated_callback_execute_workflow => "automated-callback.Execute-workflow.json",
    round_trip_automated_callback_get_waiting => "automated-callback.Get-callbacks-waiting.json",
    round_trip_call_park_get_waiting_calls => "call-park.Get-Waiting-Calls-in-specific-Queue-based-on-External-Tag.json",
    round_trip_call_park_replace_participant => "call-park.Replace-participant-with-ANI.json",
    round_trip_callback_prioritization_get_priority => "callback-prioritization.Get-Callback-Priority.json",
    round_trip_callback_prioritization_get_state => "callback-prioritization.Get-Interaction-State.json",
    round_trip_callback_prioritization_update_priority => "callback-prioritization.Update-Callback-Priority.json",
    round_trip_dev_blog_agent_counts => "developer-center-blog.Get-On-Queue-Agent-Counts.json",
    round_trip_dev_blog_update_ivr_cache => "developer-center-blog.Update-IVR-Cache-Entry.json",
    round_trip_facebook_send_sms => "facebook-ivr-deflection.Send-Agentless-SMS.json",
    round_trip_limitless_submit_csat => "limitless-flows.Submit-CSAT-Score-to-SmartCrowd.json",
    round_trip_negative_sentiment_create_callback => "negative-sentiment-callback.Create-Scheduled-Callback.json",
    round_trip_negative_sentiment_get_sentiment => "negative-sentiment-callback.Get-Sentiment.json",
    round_trip_negative_sentiment_chat_notification => "negative-sentiment-callback.Send-Chat-Group-Notification.json",
    round_trip_negative_sentiment_update_tag => "negative-sentiment-callback.Update-External-Tag.json",
    round_trip_salesforce_contact_by_phone => "salesforce-process-automation.get-contact-by-phone-number.json",
    round_trip_salesforce_get_summary => "salesforce-process-automation.get-summary.json",
    round_trip_zoom_custom_auth => "zoom-meetings-sms.ZoomServerToServerOAuthUserMeetingCreation.customAuth.json",
}

#[test]
fn every_real_action_is_covered_and_the_lint_reports_their_bugs() {
    let dir = format!("{}/tests/velocity-oracle/actions", manifest_dir());
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(files.len(), 22, "{files:?}");
    for file in &files {
        round_trip(file);
    }
    // `$Input.contactListId` renders as written on the platform: the lint says so.
    let action = round_trip("automated-callback.Add-contact-to-contact-list.json");
    let finding = action
        .lint()
        .iter()
        .find(|f| f.rule == "unknown_reference")
        .unwrap();
    assert_eq!(finding.template, "requestUrlTemplate");
    assert!(finding.message.contains("case-sensitive"), "{finding}");
    // A default that is not JSON is reported, not refused.
    let action = round_trip("callback-prioritization.Get-Interaction-State.json");
    assert!(action.lint().iter().any(|f| f.rule == "default_not_json"));
    // An export has no integration: creating it needs one.
    assert_eq!(action.integration_id(), "");
}

#[tokio::test]
async fn real_actions_run_locally_against_the_org_api() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    fake.route(
        Method::POST,
        "/api/v2/analytics/queues/observations/query",
        |req| {
            let body: Value = req.json().unwrap_or(Value::Null);
            let queue = &body["filter"]["predicates"][0]["value"];
            if queue == "q-unknown" {
                return json_response(200, &json!({}));
            }
            json_response(
                200,
                &json!({"results": [{"data": [
                    {"qualifier": "IDLE", "stats": {"count": 2}},
                    {"qualifier": "INTERACTING", "stats": {"count": 1}}
                ]}]}),
            )
        },
    );
    let action = round_trip("developer-center-blog.Get-On-Queue-Agent-Counts.json");
    assert!(action.calls_genesys_cloud());
    let exec = LocalExecutor::new(client, action);
    assert_eq!(
        exec.execute(&json!({"queueId": "q-1"})).await.unwrap(),
        json!({"counts": [2, 1], "statuses": ["IDLE", "INTERACTING"]})
    );
    // No `results`: the definite part of the path fails, so the defaults apply.
    assert_eq!(
        exec.execute(&json!({"queueId": "q-unknown"}))
            .await
            .unwrap(),
        json!({"counts": [0], "statuses": ["Error"]})
    );
    let sent = fake.requests_to(Method::POST, "/api/v2/analytics/queues/observations/query");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].auth_scheme.as_deref(),
        Some("Bearer"),
        "with the client's token"
    );

    // Success-template helpers on a translation that is an indefinite path.
    let action = round_trip("callback-prioritization.Get-Callback-Priority.json");
    let render = |ids: &str| {
        Template::parse(r#"{"priority": ${successTemplateUtils.firstFromArray("${pIdArray}", "$esc.quote$esc.quote")}}"#)
            .unwrap()
            .render(&Bindings::new().translation("pIdArray", ids))
            .unwrap()
    };
    assert_eq!(render("[5]"), r#"{"priority": 5}"#);
    assert_eq!(render("[]"), r#"{"priority": ""}"#);
    assert!(action
        .lint()
        .iter()
        .all(|f| f.rule != "translation_in_string"));
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
    let action = action_for(&fake, TUTORIAL_PATH);

    let draft = nodes.create_draft(&action).await.unwrap();
    assert!(draft.id.starts_with("custom_-_"), "{}", draft.id);
    assert_eq!(draft.version, 1);
    assert!(nodes.validate_draft(&draft.id).await.unwrap().valid);
    let created = fake.requests_to(Method::POST, "/api/v2/integrations/actions/drafts");
    assert_eq!(
        created[0].json(),
        action.to_platform(),
        "what is sent is what renders locally"
    );

    let renamed = tutorial(&format!("{}{TUTORIAL_PATH}", fake.external_target_path()))
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
            &json!({"targetId": "T-1", "requestPayload": "say \"hi\""}),
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
async fn an_export_needs_an_integration_before_it_becomes_a_draft() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let path = format!(
        "{}/tests/velocity-oracle/actions/callback-prioritization.Get-Interaction-State.json",
        manifest_dir()
    );
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let action = DataAction::from_platform(&exported).unwrap();
    let err = client.nodes().create_draft(&action).await.unwrap_err();
    let v = err.validation().unwrap();
    assert!(
        v.has("integrationId", "required") && v.has("category", "required"),
        "{v}"
    );
    let ready = DataActionBuilder::from_platform(&exported)
        .integration_id(INTEGRATION)
        .category("Callbacks")
        .lint_level(LintLevel::Warn)
        .build()
        .unwrap();
    let draft = client.nodes().create_draft(&ready).await.unwrap();
    let sent = fake.requests_to(Method::POST, "/api/v2/integrations/actions/drafts");
    assert_eq!(
        sent[0].json()["config"],
        exported["config"],
        "the export's config as it was"
    );
    assert_eq!(draft.category, "Callbacks");
}

#[tokio::test]
async fn execute_failures_use_the_platform_error_shape() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let nodes = client.nodes();
    let draft = nodes
        .create_draft(&action_for(
            &fake,
            "/broken/$esc.uriEncode(${input.targetId})",
        ))
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
    let (exec, _client, clock) = executor(&fake, TUTORIAL_PATH);
    fake.inject_on(Method::POST, RESOURCES, Fault::Status(503), 2);
    let output = exec
        .execute(&json!({"targetId": "T 1", "authToken": "tok", "requestPayload": "line\n\"two\""}))
        .await
        .unwrap();
    assert_eq!(output, json!({"status": "accepted", "resultId": "res-T 1"}));
    let sent = fake.requests_to(Method::POST, "/external/v1/resources/T%201");
    assert_eq!(sent.len(), 3);
    assert_eq!(
        sent[2].json(),
        json!({"resourceId": "T 1", "data": "line\n\"two\""}),
        "escaped by the template, not by the crate"
    );
    assert_eq!(sent[2].auth_scheme.as_deref(), Some("Bearer"));
    assert_eq!(clock.sleeps().len(), 2);
}

#[tokio::test]
async fn executor_sends_credentials_without_showing_them() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let action = tutorial(&format!("{}{TUTORIAL_PATH}", fake.external_target_path()))
        .header(
            "Authorization",
            r#"Basic $encoding.base64("${credentials.user}:${credentials.password}")"#,
        )
        .build()
        .unwrap();
    let exec = LocalExecutor::new(client, action).credentials(
        Credentials::new()
            .with("user", "svc")
            .with("password", "pa55-word"),
    );
    assert!(!format!("{exec:?}").contains("pa55-word"));
    exec.execute(&json!({"targetId": "T-2"})).await.unwrap();
    let shown = format!("{exec:?}");
    assert!(
        !shown.contains("pa55-word") && !shown.contains("res-T-2"),
        "no secret, no cached output: {shown}"
    );
    let sent = fake.requests_to(Method::POST, "/external/v1/resources/T-2");
    assert_eq!(sent[0].auth_scheme.as_deref(), Some("Basic"));
    let prepared = exec.action().prepare(&json!({"targetId": "T-2"})).unwrap();
    let shown = format!("{prepared:?}");
    assert!(
        !shown.contains("T-2") && shown.contains("Authorization"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_contract_failure_is_not_retried_or_cached() {
    let fake = FakeGenesys::start().await;
    let (exec, _client, _clock) = executor(&fake, "/broken/$esc.uriEncode(${input.targetId})");
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
async fn cache_hits_expire_and_distinct_requests_are_distinct_entries() {
    let fake = FakeGenesys::start().await;
    let (exec, client, clock) = executor(&fake, TUTORIAL_PATH);
    let input = json!({"targetId": "T-1", "requestPayload": "a"});
    exec.execute(&input).await.unwrap();
    exec.execute(&input).await.unwrap();
    let calls = || {
        fake.requests_to(Method::POST, "/external/v1/resources/T-1")
            .len()
    };
    assert_eq!(calls(), 1, "second call served from cache");
    assert_eq!(client.metrics_snapshot().counter("nodes.cache_hits"), 1);

    exec.execute(&json!({"targetId": "T-1", "requestPayload": "b"}))
        .await
        .unwrap();
    assert_eq!(calls(), 2, "same URL, other body");
    exec.execute(&json!({"targetId": "T-1", "requestPayload": "a", "authToken": "other"}))
        .await
        .unwrap();
    assert_eq!(calls(), 3, "same URL and body, other header");
    assert_eq!(exec.cached(), 3);

    clock.advance(Duration::from_secs(301));
    exec.execute(&input).await.unwrap();
    assert_eq!(calls(), 4, "expired after the TTL");

    let small =
        LocalExecutor::new(client.clone(), action_for(&fake, TUTORIAL_PATH)).cache_capacity(1);
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
async fn translation_map_defaults_and_raw_result() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock).build().unwrap();
    let base = fake.external_target_path();
    let action = |default: Option<&str>| {
        let b = DataAction::builder("c", "n", INTEGRATION)
            .input_schema(json!({"type": "object", "properties": {"targetId": {"type": "string"}}}))
            .success_schema(json!({"type": "object"}))
            .request(
                "GET",
                format!("{base}/resources/$esc.uriEncode(${{input.targetId}})"),
            )
            .translation("status", "$.status")
            .translation("owner", "$.owner.name")
            .success_template(
                r#"{"status": ${status}, "owner": ${owner}, "raw": "$esc.jsonString($rawResult)"}"#,
            );
        match default {
            Some(d) => b.translation_default("owner", d),
            None => b,
        }
        .build()
        .unwrap()
    };
    let with_default = LocalExecutor::new(client.clone(), action(Some("\"nobody\"")));
    let output = with_default
        .execute(&json!({"targetId": "X"}))
        .await
        .unwrap();
    assert_eq!(output["status"], "ok");
    assert_eq!(output["owner"], "nobody");
    assert_eq!(
        serde_json::from_str::<Value>(output["raw"].as_str().unwrap()).unwrap(),
        json!({"status": "ok", "resultId": "res-X"}),
        "rawResult is the body as received"
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
    let (exec, _client, _clock) = executor(&fake, TUTORIAL_PATH);
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

// ---- the fake's own rules, renderer and JSONPath ----

const DRAFTS: &str = "/api/v2/integrations/actions/drafts";

/// The tutorial's `PostActionInput`, aimed at the fake's external target.
fn tutorial_body(fake: &FakeGenesys) -> Value {
    action_for(fake, TUTORIAL_PATH).to_platform()
}

/// Sets (or, with `None`, removes) the member a JSON pointer names.
fn edit(body: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let map = body.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    match value {
        Some(value) => map.insert(key.to_owned(), value),
        None => map.remove(key),
    };
}

async fn post_draft(client: &Client, body: &Value) -> Result<Value, genesys_cloud::Error> {
    client.request(Method::POST, DRAFTS).json(body).send().await
}

/// The `(fieldName, errorCode)` pairs of a 400's details.
fn refused_fields(err: &genesys_cloud::Error) -> Vec<(String, String)> {
    let api = err.api().unwrap_or_else(|| panic!("an API error: {err}"));
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
async fn the_fake_refuses_definitions_the_platform_refuses() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let nested = json!({"type": "array", "items": {"type": "array", "items": {"type": "string"}}});
    let cases: Vec<(&str, Option<Value>, &str, &str)> = vec![
        (
            "/config/request/requestType",
            Some(json!("FETCH")),
            "config.request.requestType",
            "invalid.value",
        ),
        (
            "/config/request/requestUrlTemplate",
            None,
            "config.request.requestUrlTemplate",
            "required",
        ),
        (
            "/config/timeoutSeconds",
            Some(json!(61)),
            "config.timeoutSeconds",
            "out.of.range",
        ),
        (
            "/config/timeoutSeconds",
            Some(json!(0)),
            "config.timeoutSeconds",
            "out.of.range",
        ),
        (
            "/config/request/headers",
            Some(json!({"Accept": "text/xml"})),
            "config.request.headers.Accept",
            "accept.not.json",
        ),
        (
            "/config/response/translationMap/status",
            Some(json!(5)),
            "config.response.translationMap.status",
            "not.a.string",
        ),
        (
            "/contract/input/inputSchema/type",
            Some(json!("array")),
            "contract.input.inputSchema.type",
            "invalid.value",
        ),
        (
            "/contract/input/inputSchema/properties/obj",
            Some(json!({"type": "object"})),
            "contract.input.inputSchema.properties.obj.type",
            "invalid.value",
        ),
        (
            "/contract/input/inputSchema/properties/1st",
            Some(json!({"type": "string"})),
            "contract.input.inputSchema.properties.1st",
            "invalid.name",
        ),
        (
            "/contract/output/successSchema/properties/ref",
            Some(json!({"$ref": "#/definitions/x"})),
            "contract.output.successSchema.properties.ref.$ref",
            "not.supported",
        ),
        (
            "/contract/output/successSchema/properties/grid",
            Some(nested),
            "contract.output.successSchema.properties.grid.items",
            "nested.array",
        ),
        ("/contract/output", None, "contract.output", "required"),
        ("/name", Some(json!("n".repeat(257))), "name", "max.length"),
        (
            "/integrationId",
            Some(json!("")),
            "integrationId",
            "required",
        ),
    ];
    for (pointer, value, field, code) in cases {
        let mut body = tutorial_body(&fake);
        edit(&mut body, pointer, value);
        let err = post_draft(&client, &body).await.unwrap_err();
        let fields = refused_fields(&err);
        assert!(
            fields.contains(&(field.to_owned(), code.to_owned())),
            "{pointer}: expected {field} {code} in {fields:?}"
        );
    }
    assert!(fake.actions().is_empty(), "nothing was stored");
}

#[tokio::test]
async fn the_fake_accepts_definitions_only_the_crate_refuses() {
    // No platform source says these are refused when an action is saved; the crate's
    // builder refuses them before sending.
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/config/request/requestUrlTemplate",
            json!("http://api.example.com/x/$esc.uriEncode(${input.targetId})"),
            "requestUrlTemplate",
            "https",
        ),
        (
            "/config/request/requestUrlTemplate",
            json!("https://api.example.com/${input.targetId"),
            "requestUrlTemplate",
            "template_syntax",
        ),
        (
            "/config/response/translationMap/bad",
            json!("$.[oops"),
            "translationMap.bad",
            "json_path",
        ),
        (
            "/contract/input/inputSchema/properties/rawRequest",
            json!({"type": "string"}),
            "contract.input.inputSchema.properties.rawRequest",
            "reserved_input",
        ),
        (
            "/config/request/headers/Bad Header",
            json!("x"),
            "headers.Bad Header",
            "header_name",
        ),
    ];
    for (pointer, value, field, rule) in cases {
        let mut body = tutorial_body(&fake);
        edit(&mut body, pointer, Some(value));
        let err = DataAction::from_platform(&body).unwrap_err();
        assert!(
            err.has(field, rule),
            "the crate refuses {field} {rule}: {err}"
        );
        let draft = post_draft(&client, &body).await;
        assert!(draft.is_ok(), "{pointer}: the fake accepts it: {draft:?}");
    }
}

#[tokio::test]
async fn the_fakes_renderer_covers_the_documented_constructs() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let base = fake.external_target_path();
    let body = json!({
        "name": "render", "category": "Fake", "integrationId": INTEGRATION,
        "config": {
            "timeoutSeconds": 5,
            "request": {
                "requestType": "POST",
                "requestUrlTemplate": format!("{base}/resources/$esc.uriEncode(${{input.id}})?q=$esc.url($input.q)"),
                "headers": {"X-Trace": "$!{input.absent}|${input.absent}|$input.n|$Input.id"},
                "requestTemplate": r#"{"resourceId": "$esc.jsonString(${input.id})", "items": [{"id": "a"}, {"id": "b"}], "note": "$!esc.jsonString($!{input.absent})", "flag": $input.flag, "n": ${input.n}}"#
            },
            "response": {
                "translationMap": {
                    "status": "$.status",
                    "ids": "$.received.items[*].id",
                    "deep": "$..id",
                    "direct": "$['received']['items'][1]['id']",
                    "owner": "$.owner.name",
                    "none": "$.received.items[*].nothing"
                },
                "translationMapDefaults": {"owner": "\"nobody\""},
                "successTemplate": r#"{"status": ${status}, "first": $successTemplateUtils.firstFromArray("${ids}"), "fallback": ${successTemplateUtils.firstFromArray("${none}", "$esc.quote$esc.quote")}, "ids": ${ids}, "deep": ${deep}, "direct": ${direct}, "owner": ${owner}, "empty": $esc.quote$esc.quote, "raw": "$esc.jsonString(${rawResult})"}"#
            }
        },
        "contract": {
            "input": {"inputSchema": {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "string"}, "q": {"type": "string"}, "absent": {"type": "string"},
                "flag": {"type": "boolean"}, "n": {"type": "number"}}}},
            "output": {"successSchema": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}}
        }
    });
    let draft = post_draft(&client, &body).await.unwrap();
    let id = draft["id"].as_str().unwrap();
    let input = json!({"id": "a/b c", "q": "x y&z", "flag": true, "n": 2.5});
    let run = client.nodes().test_draft(id, &input).await.unwrap();
    assert!(run.success, "{run:?}");
    let request = run.operations[0].result.clone().unwrap();
    assert_eq!(
        request["url"],
        format!("{base}/resources/a%2Fb%20c?q=x+y%26z")
    );
    assert_eq!(
        request["headers"]["X-Trace"], "|${input.absent}|2.5|$Input.id",
        "silent, formal and shorthand notation; an unknown root renders as written"
    );
    let sent = request["body"].as_str().unwrap();
    assert_eq!(
        sent,
        r#"{"resourceId": "a/b c", "items": [{"id": "a"}, {"id": "b"}], "note": "", "flag": true, "n": 2.5}"#
    );
    let output = run.final_result.unwrap();
    let raw: Value = serde_json::from_str(output["raw"].as_str().unwrap()).unwrap();
    assert_eq!(
        raw["received"],
        serde_json::from_str::<Value>(sent).unwrap()
    );
    assert_eq!(
        output,
        json!({
            "status": "accepted", "first": "a", "fallback": "", "ids": ["a", "b"], "deep": ["a", "b"],
            "direct": "b", "owner": "nobody", "empty": "", "raw": output["raw"].clone()
        })
    );
}

#[tokio::test]
async fn constructs_outside_the_fakes_subset_are_refused_by_name() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let base = fake.external_target_path();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "/config/request/requestTemplate",
            "#if($input.targetId)x#end".into(),
            "#if",
        ),
        (
            "/config/request/requestTemplate",
            r#"{"n": $math.add(1, 2)}"#.into(),
            "$math",
        ),
        (
            "/config/request/requestUrlTemplate",
            format!("{base}/resources/${{input.targetId.replace('T', 'X')}}"),
            "replace",
        ),
        (
            "/config/response/translationMap/status",
            "$.items[?(@.id=='a')].id".into(),
            "filter",
        ),
        (
            "/config/response/translationMap/status",
            "$.received.length()".into(),
            "length()",
        ),
        (
            "/config/response/successTemplate",
            r#"{"status": "$urlTool.optionalQueryParam('a', 'b')"}"#.into(),
            "$urlTool",
        ),
    ];
    for (pointer, value, needle) in cases {
        let mut body = tutorial_body(&fake);
        edit(&mut body, pointer, Some(json!(value)));
        let draft = post_draft(&client, &body).await.unwrap();
        let test: Value = client
            .request(
                Method::POST,
                &format!(
                    "/api/v2/integrations/actions/{}/draft/test",
                    draft["id"].as_str().unwrap()
                ),
            )
            .json(&json!({"targetId": "T-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(test["success"], false, "{pointer}: {test}");
        let message = test["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("the fake does not support") && message.contains(needle),
            "{pointer}: {message}"
        );
    }
}

/// The crate's directory, read at run time: a test binary reused from a shared target
/// directory may have been built from another checkout.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}
