//! Open311 GeoReport v2: discovery, services and definitions in JSON and
//! XML (parsed for real), form-encoded requests, listing with filters and the
//! status mapping, and errors in the spec's format.

use landpatrol_tests::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A point in 海滨街道 (120115001).
const HAIBIN: (f64, f64) = (117.295129, 39.733503);
const KEY: &str = "landpatrol-test-key";

async fn spawn() -> TestApp {
    let app = TestApp::spawn_with(|s| s.tips.open311_api_keys = vec![KEY.into()]).await;
    landpatrol_server::demo::load(&app.state).await.unwrap();
    app
}

/// An XML element: name, text and children, in document order.
#[derive(Debug, Default, Clone)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> &Node {
        self.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no <{name}> in <{}>: {self:?}", self.name))
    }

    fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn text_of(&self, name: &str) -> &str {
        &self.child(name).text
    }
}

fn parse_xml(text: &str) -> Node {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("bad XML: {e}: {text}")) {
            Event::Start(e) => {
                stack.push(Node { name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(), ..Node::default() })
            }
            Event::Empty(e) => stack
                .last_mut()
                .unwrap()
                .children
                .push(Node { name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(), ..Node::default() }),
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.unescape().unwrap()),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unbalanced XML: {text}");
    let mut doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1, "one root element: {text}");
    doc.children.pop().unwrap()
}

async fn get_raw(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    let status = resp.status();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let (status, ct, body) = get_raw(app, path).await;
    assert!(ct.starts_with("application/json"), "{path}: {ct}");
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
}

async fn get_xml(app: &TestApp, path: &str) -> (StatusCode, Node) {
    let (status, ct, body) = get_raw(app, path).await;
    assert_eq!(ct, "text/xml; charset=utf-8", "{path}");
    (status, parse_xml(&body))
}

/// A form-encoded `POST requests.{fmt}`; the raw answer.
async fn post_form(app: &TestApp, fmt: &str, form: &[(&str, &str)]) -> (StatusCode, String, Option<String>) {
    let resp = app.client.post(app.url(&format!("/open311/v2/requests.{fmt}"))).form(form).send().await.unwrap();
    let status = resp.status();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, resp.text().await.unwrap(), retry)
}

#[track_caller]
fn assert_json_error(status: StatusCode, body: &str, code: u16) {
    assert_eq!(status.as_u16(), code, "{body}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v[0]["code"], code, "{body}");
    assert!(v[0]["description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
}

#[track_caller]
fn assert_xml_error(status: StatusCode, body: &str, code: u16) {
    assert_eq!(status.as_u16(), code, "{body}");
    let doc = parse_xml(body);
    assert_eq!(doc.name, "errors");
    let e = doc.child("error");
    assert_eq!(e.text_of("code"), code.to_string());
    assert!(!e.text_of("description").is_empty());
}

fn form_at(p: (f64, f64)) -> Vec<(&'static str, String)> {
    vec![
        ("api_key", KEY.to_owned()),
        ("service_code", "built_without_approval".into()),
        ("lat", p.1.to_string()),
        ("long", p.0.to_string()),
    ]
}

async fn post_ok(app: &TestApp, form: &[(&str, String)]) -> String {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body, _) = post_form(app, "json", &pairs).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v[0]["service_request_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn discovery_services_and_definitions_in_json_and_xml() {
    let app = spawn().await;
    let (status, d) = get_json(&app, "/open311/v2/discovery.json").await;
    assert_eq!(status, 200);
    assert_eq!(d["endpoints"][0]["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(d["endpoints"][0]["type"], "production");
    assert_eq!(d["endpoints"][0]["url"], format!("{}/open311/v2/", app.base));
    assert_eq!(d["endpoints"][0]["formats"], json!(["text/xml", "application/json"]));
    let (status, x) = get_xml(&app, "/open311/v2/discovery.xml").await;
    assert_eq!(status, 200);
    assert_eq!(x.name, "discovery");
    let endpoint = x.child("endpoints").child("endpoint");
    assert_eq!(endpoint.text_of("specification"), "http://wiki.open311.org/GeoReport_v2");
    let formats: Vec<&str> = endpoint.child("formats").all("format").iter().map(|f| f.text.as_str()).collect();
    assert_eq!(formats, ["text/xml", "application/json"]);
    assert!(!x.text_of("changeset").is_empty());

    let (status, services) = get_json(&app, "/open311/v2/services.json?jurisdiction_id=baodi").await;
    assert_eq!(status, 200);
    let list = services.as_array().unwrap();
    assert_eq!(list.len(), landpatrol_sync::ViolationType::ALL.len());
    let farmland = list.iter().find(|s| s["service_code"] == "farmland_occupation").unwrap();
    assert_eq!(farmland["type"], "realtime");
    assert_eq!(farmland["group"], "land_use");
    assert_eq!(farmland["metadata"], true);
    assert!(farmland["service_name"].as_str().unwrap().contains("非法占用耕地"));
    let other = list.iter().find(|s| s["service_code"] == "other").unwrap();
    assert_eq!(other["metadata"], false);
    let (_, x) = get_xml(&app, "/open311/v2/services.xml").await;
    assert_eq!(x.name, "services");
    let xs = x.all("service");
    assert_eq!(xs.len(), list.len());
    let idle = xs.iter().find(|s| s.text_of("service_code") == "idle_land").unwrap();
    assert_eq!(idle.text_of("metadata"), "true");
    assert_eq!(idle.text_of("type"), "realtime");
    assert!(idle.text_of("service_name").contains("闲置土地"));

    let (status, def) = get_json(&app, "/open311/v2/services/built_without_approval.json").await;
    assert_eq!(status, 200);
    assert_eq!(def["service_code"], "built_without_approval");
    let codes: Vec<&str> = def["attributes"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["area_m2", "building_storeys", "ongoing"]);
    let ongoing = &def["attributes"][2];
    assert_eq!(ongoing["datatype"], "singlevaluelist");
    assert_eq!(ongoing["values"][0]["key"], "yes");
    let (_, x) = get_xml(&app, "/open311/v2/services/built_without_approval.xml").await;
    assert_eq!(x.name, "service_definition");
    let attrs = x.child("attributes").all("attribute");
    assert_eq!(attrs.len(), 3);
    assert_eq!(attrs[0].text_of("datatype"), "number");
    assert_eq!(attrs[0].text_of("variable"), "true");
    let values = attrs[2].child("values").all("value");
    assert_eq!(values.iter().map(|v| v.text_of("key")).collect::<Vec<_>>(), ["yes", "no"]);

    let (status, _, body) = get_raw(&app, "/open311/v2/services/jaywalking.json").await;
    assert_json_error(status, &body, 404);
    let (status, _, body) = get_raw(&app, "/open311/v2/services/jaywalking.xml").await;
    assert_xml_error(status, &body, 404);
    let (status, _, body) = get_raw(&app, "/open311/v2/services.csv").await;
    assert_json_error(status, &body, 404);
}

#[tokio::test]
async fn a_form_encoded_request_becomes_a_tip_listed_open_then_closed() {
    let app = spawn().await;
    let description = "Two-storey brick house <going up> & growing";
    let (status, body, _) = post_form(
        &app,
        "json",
        &[
            ("api_key", KEY),
            ("jurisdiction_id", "baodi"),
            ("service_code", "built_without_approval"),
            ("lat", &HAIBIN.1.to_string()),
            ("long", &HAIBIN.0.to_string()),
            ("address_string", "北台村东"),
            ("description", description),
            ("attribute[area_m2]", "320.5"),
            ("attribute[building_storeys]", "2"),
            ("attribute[ongoing]", "yes"),
            ("email", "reporter@example.org"),
            ("first_name", "Li"),
            ("last_name", "Wei"),
            ("phone", "13900000000"),
            ("device_id", "civic-app-1"),
            ("media_url", "https://example.org/photos/1.jpg"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let id = answer[0]["service_request_id"].as_str().unwrap().to_owned();
    assert!(answer[0]["service_notice"].as_str().unwrap().contains("海滨街道"));
    assert_eq!(answer[0]["account_id"], Value::Null);

    // The same request in XML.
    let (status, body, _) = post_form(
        &app,
        "xml",
        &[
            ("api_key", KEY),
            ("service_code", "idle_land"),
            ("lat", "39.7336"),
            ("long", "117.2952"),
            ("description", "闲置多年"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let x = parse_xml(&body);
    assert_eq!(x.name, "service_requests");
    let idle_id = x.child("request").text_of("service_request_id").to_owned();
    assert_eq!(idle_id.len(), 36);

    // The office sees it as a tip, with the contact and the answers.
    let officer = app.token("officer-120115001").await;
    let (status, tip) = app.get(&format!("/api/v1/tips/{id}"), Some(&officer)).await;
    assert_eq!(status, 200, "{tip}");
    assert_eq!(tip["channel"], "open311");
    assert_eq!(tip["contact"]["email"], "reporter@example.org");
    assert_eq!(tip["contact"]["name"], "Li Wei");
    assert_eq!(tip["attributes"]["area_m2"], 320.5);
    assert_eq!(tip["attributes"]["building_storeys"], 2);
    assert_eq!(tip["attributes"]["ongoing"], "yes");
    assert_eq!(tip["media_url"], "https://example.org/photos/1.jpg");
    assert_eq!(tip["device_id"], "civic-app-1");
    let (_, inbox) = app.get("/api/v1/alerts?kind=tip_received", Some(&officer)).await;
    assert!(inbox["alerts"].as_array().unwrap().iter().any(|a| a["tip_id"] == id.as_str()));

    // Listed publicly, without the contact.
    let (status, list) = get_json(&app, "/open311/v2/requests.json").await;
    assert_eq!(status, 200);
    let mine = list.as_array().unwrap().iter().find(|r| r["service_request_id"] == id.as_str()).expect("listed");
    assert_eq!(mine["status"], "open");
    assert_eq!(mine["service_code"], "built_without_approval");
    assert_eq!(mine["description"], description);
    assert_eq!(mine["agency_responsible"], "海滨街道");
    assert_eq!(mine["address"], "北台村东");
    assert_eq!(mine["lat"], HAIBIN.1);
    assert_eq!(mine["long"], HAIBIN.0);
    assert_eq!(mine["media_url"], "https://example.org/photos/1.jpg");
    let text = list.to_string();
    for private in ["reporter@example.org", "13900000000", "Wei", "civic-app-1"] {
        assert!(!text.contains(private), "{private} is public: {text}");
    }
    let (_, x) = get_xml(&app, "/open311/v2/requests.xml").await;
    assert_eq!(x.name, "service_requests");
    let requests = x.all("request");
    assert_eq!(requests.len(), 2);
    let r = requests.iter().find(|r| r.text_of("service_request_id") == id).unwrap();
    assert_eq!(r.text_of("status"), "open");
    assert_eq!(r.text_of("description"), description, "escaped and read back");
    assert_eq!(r.text_of("lat").parse::<f64>().unwrap(), HAIBIN.1);
    // Filters.
    let (_, one) = get_json(&app, &format!("/open311/v2/requests.json?service_request_id={id}")).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    let (_, both) = get_json(&app, &format!("/open311/v2/requests.json?service_request_id={id},{idle_id}")).await;
    assert_eq!(both.as_array().unwrap().len(), 2);
    let (_, idle) = get_json(&app, "/open311/v2/requests.json?service_code=idle_land").await;
    assert_eq!(idle.as_array().unwrap().len(), 1);
    assert_eq!(idle[0]["service_request_id"], idle_id.as_str());
    let (_, closed) = get_json(&app, "/open311/v2/requests.json?status=closed").await;
    assert_eq!(closed, json!([]));
    let start = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let (status, windowed) =
        get_json(&app, &format!("/open311/v2/requests.json?start_date={}", urlencode(&start))).await;
    assert_eq!(status, 200, "{windowed}");
    assert_eq!(windowed.as_array().unwrap().len(), 2);
    let (_, old) =
        get_json(&app, "/open311/v2/requests.json?start_date=2017-01-01T00:00:00Z&end_date=2017-03-01T00:00:00Z").await;
    assert_eq!(old, json!([]));
    // One request, and its token.
    let (status, single) = get_json(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(status, 200);
    assert_eq!(single.as_array().unwrap().len(), 1);
    assert_eq!(single[0]["service_request_id"], id.as_str());
    let (_, x) = get_xml(&app, &format!("/open311/v2/requests/{id}.xml")).await;
    assert_eq!(x.child("request").text_of("service_request_id"), id);
    let (status, tok) = get_json(&app, &format!("/open311/v2/tokens/{id}.json")).await;
    assert_eq!(status, 200);
    assert_eq!(tok[0]["service_request_id"], id.as_str());
    let (_, x) = get_xml(&app, &format!("/open311/v2/tokens/{id}.xml")).await;
    assert_eq!(x.child("request").text_of("token"), id);

    // Triaged into a case: still open; the case dismissed: closed.
    let (status, made) =
        app.post(&format!("/api/v1/tips/{id}/triage"), Some(&officer), json!({"action": "create_case"})).await;
    assert_eq!(status, 200, "{made}");
    let (_, single) = get_json(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(single[0]["status"], "open");
    assert!(single[0]["status_notes"].as_str().unwrap().contains(made["case_number"].as_str().unwrap()));
    let case_id = made["case_id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/cases/{case_id}/transitions"),
            Some(&officer),
            json!({"from": "reported", "to": "dismissed", "note": "合法"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, single) = get_json(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(single[0]["status"], "closed");
    // Rejected: closed.
    let (status, _) = app
        .post(&format!("/api/v1/tips/{idle_id}/triage"), Some(&officer), json!({"action": "reject", "note": "已开工"}))
        .await;
    assert_eq!(status, 200);
    let (_, closed) = get_json(&app, "/open311/v2/requests.json?status=closed").await;
    assert_eq!(closed.as_array().unwrap().len(), 2);
    let (_, open) = get_json(&app, "/open311/v2/requests.json?status=open").await;
    assert_eq!(open, json!([]));
    let (_, x) = get_xml(&app, &format!("/open311/v2/requests/{idle_id}.xml")).await;
    assert_eq!(x.child("request").text_of("status"), "closed");
    assert!(!x.child("request").text_of("status_notes").contains("已开工"), "triage notes stay internal");
}

async fn tip_count(app: &TestApp) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) FROM tips"))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn bad_requests_answer_in_the_spec_error_format_and_change_nothing() {
    let app = spawn().await;
    let lat = HAIBIN.1.to_string();
    let lon = HAIBIN.0.to_string();
    for fmt in ["json", "xml"] {
        let check = |status, body: &str, code| {
            if fmt == "json" { assert_json_error(status, body, code) } else { assert_xml_error(status, body, code) }
        };
        // Missing service_code.
        let (s, b, _) = post_form(&app, fmt, &[("api_key", KEY), ("lat", &lat), ("long", &lon)]).await;
        check(s, &b, 400);
        // Unknown service_code.
        let (s, b, _) =
            post_form(&app, fmt, &[("api_key", KEY), ("service_code", "jaywalking"), ("lat", &lat), ("long", &lon)])
                .await;
        check(s, &b, 400);
        // No location, or an address only.
        let (s, b, _) = post_form(&app, fmt, &[("api_key", KEY), ("service_code", "idle_land")]).await;
        check(s, &b, 400);
        assert!(b.contains("location"), "{b}");
        let (s, b, _) =
            post_form(&app, fmt, &[("api_key", KEY), ("service_code", "idle_land"), ("address_string", "北台村")])
                .await;
        check(s, &b, 400);
        let (s, b, _) = post_form(&app, fmt, &[("api_key", KEY), ("service_code", "idle_land"), ("lat", &lat)]).await;
        check(s, &b, 400);
        // Out of range, not a number.
        let (s, b, _) =
            post_form(&app, fmt, &[("api_key", KEY), ("service_code", "idle_land"), ("lat", "91"), ("long", &lon)])
                .await;
        check(s, &b, 400);
        let (s, b, _) =
            post_form(&app, fmt, &[("api_key", KEY), ("service_code", "idle_land"), ("lat", "north"), ("long", &lon)])
                .await;
        check(s, &b, 400);
        // Bad api_key, none at all.
        let (s, b, _) =
            post_form(&app, fmt, &[("api_key", "guess"), ("service_code", "idle_land"), ("lat", &lat), ("long", &lon)])
                .await;
        check(s, &b, 403);
        let (s, b, _) = post_form(&app, fmt, &[("service_code", "idle_land"), ("lat", &lat), ("long", &lon)]).await;
        check(s, &b, 403);
        // Attributes the definition does not have, or bad values.
        for (k, v) in
            [("attribute[colour]", "red"), ("attribute[area_m2]", "-3"), ("attribute[building_storeys]", "2.5")]
        {
            let (s, b, _) = post_form(
                &app,
                fmt,
                &[("api_key", KEY), ("service_code", "built_without_approval"), ("lat", &lat), ("long", &lon), (k, v)],
            )
            .await;
            check(s, &b, 400);
        }
        let (s, b, _) = post_form(
            &app,
            fmt,
            &[
                ("api_key", KEY),
                ("service_code", "idle_land"),
                ("lat", &lat),
                ("long", &lon),
                ("media_url", "javascript:alert(1)"),
            ],
        )
        .await;
        check(s, &b, 400);
        // Unknown ids and tokens.
        let (s, _, b) = get_raw(&app, &format!("/open311/v2/requests/{}.{fmt}", uuid::Uuid::now_v7())).await;
        check(s, &b, 404);
        let (s, _, b) = get_raw(&app, &format!("/open311/v2/requests/not-an-id.{fmt}")).await;
        check(s, &b, 404);
        let (s, _, b) = get_raw(&app, &format!("/open311/v2/tokens/{}.{fmt}", uuid::Uuid::now_v7())).await;
        check(s, &b, 404);
        // A window over 90 days, a reversed one, a bad date or status.
        for q in [
            "start_date=2017-01-01T00:00:00Z&end_date=2017-06-01T00:00:00Z",
            "start_date=2017-06-01T00:00:00Z&end_date=2017-01-01T00:00:00Z",
            "start_date=yesterday",
            "status=pending",
        ] {
            let (s, _, b) = get_raw(&app, &format!("/open311/v2/requests.{fmt}?{q}")).await;
            check(s, &b, 400);
        }
        let (s, _, b) = get_raw(&app, &format!("/open311/v2/services/jaywalking.{fmt}")).await;
        check(s, &b, 404);
    }
    // JSON instead of a form.
    let resp = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .json(&json!({"api_key": KEY, "service_code": "idle_land", "lat": 39.7, "long": 117.3}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_json_error(status, &resp.text().await.unwrap(), 400);
    // A form over 64 KiB.
    let big = "x".repeat(70 * 1024);
    let (s, b, _) = post_form(
        &app,
        "json",
        &[("api_key", KEY), ("service_code", "idle_land"), ("lat", "39.7"), ("long", "117.3"), ("description", &big)],
    )
    .await;
    assert_json_error(s, &b, 413);
    assert_eq!(tip_count(&app).await, 0, "nothing was stored");
    // A window of exactly 90 days is fine.
    let (s, _, b) =
        get_raw(&app, "/open311/v2/requests.json?start_date=2017-01-01T00:00:00Z&end_date=2017-04-01T00:00:00Z").await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn open311_requests_share_the_tip_rate_limits() {
    let app = TestApp::spawn_with(|s| {
        s.tips.open311_api_keys = vec![KEY.into()];
        s.tips.per_address_per_hour = 1;
    })
    .await;
    landpatrol_server::demo::load(&app.state).await.unwrap();
    post_ok(&app, &form_at(HAIBIN)).await;
    let pairs: Vec<(String, String)> = form_at(HAIBIN).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, body, retry) = post_form(&app, "xml", &pairs).await;
    assert_xml_error(status, &body, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() > 0);
    // A native tip from the same address is over the limit too.
    let (status, _) = app
        .post("/api/v1/tips", None, json!({"location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "description": "x"}))
        .await;
    assert_eq!(status, 429);
}
