//! A small client for talking to an in-process emulator in tests.

use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};
use flowform_emulator::{
    CRM_TO_AEP_ID, DATA_LAKE_SPEC_ID, DEMO_PROFILE_DATASET_ID, DEMO_PROFILE_SCHEMA_ID, Emulator, FLOW_BASE,
    Options,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A plain HTTP client. When the whole workspace is built, reqwest carries flowform's
/// `rustls-no-provider` feature and wants a process-wide TLS provider, even for `http://`.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub const SF: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `FLOW-NNNN-SSS` code of a Flow Service error.
    pub fn flow_code(&self) -> String {
        let t = self.body["type"].as_str().unwrap_or_default();
        t.rsplit('/').next().unwrap_or_default().to_owned()
    }

    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        self
    }
}

pub struct Api {
    pub emulator: Emulator,
    pub http: reqwest::Client,
    pub token: String,
    pub org: String,
    pub sandbox: String,
}

/// A Basic Authentication Salesforce body.
pub fn basic(name: &str) -> Value {
    json!({
        "name": name,
        "description": "a test connection",
        "connectionSpec": {"id": SF, "version": "1.0"},
        "auth": {"specName": "Basic Authentication", "params": {
            "environmentUrl": "https://acme.my.salesforce.com",
            "username": "u", "password": "hunter2", "securityToken": "tok-123"}}
    })
}

pub fn jwt(name: &str) -> Value {
    json!({
        "name": name,
        "connectionSpec": {"id": SF, "version": "1.0"},
        "auth": {"specName": "OAuth2 JWT Token Credential", "params": {
            "jwtToken": "jwt-secret", "clientId": "c", "clientSecret": "cs",
            "instanceUrl": "https://acme.my.salesforce.com"}}
    })
}

/// A source connection reading `table` of base connection `base`.
pub fn source(name: &str, base: &str, table: &str) -> Value {
    json!({
        "name": name,
        "baseConnectionId": base,
        "description": "reads a table",
        "data": {"format": "tabular"},
        "params": {"tableName": table, "columns": [
            {"name": "Email", "type": "string", "xdm": {"type": "string"}}]},
        "connectionSpec": {"id": SF, "version": "1.0"}
    })
}

/// A data-lake target connection writing to the demo profile dataset.
pub fn target(name: &str) -> Value {
    json!({
        "name": name,
        "data": {"schema": {"id": DEMO_PROFILE_SCHEMA_ID,
                            "version": "application/vnd.adobe.xed-full+json;version=1"}},
        "params": {"dataSetId": DEMO_PROFILE_DATASET_ID},
        "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"}
    })
}

/// A mapping set in the current shape, writing the demo profile schema.
pub fn mapping_body(source: &str) -> Value {
    json!({
        "outputSchema": {"schemaRef": {"id": DEMO_PROFILE_SCHEMA_ID,
                                       "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
        "mappings": [
            {"sourceType": "ATTRIBUTE", "source": source, "destination": "personalEmail.address"},
            {"sourceType": "EXPRESSION", "source": "concat(FirstName, ' ', LastName)",
             "destination": "person.name.fullName", "name": "full name", "description": "joined"}]
    })
}

/// What a flow needs: a base, a source and a target connection, and a mapping set.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub base: String,
    pub source: String,
    pub target: String,
    pub mapping: String,
}

impl Pipeline {
    /// A `CRMToAEP` flow body as D-TPL writes it (strings for the schedule's values).
    pub fn flow(&self, name: &str, start_s: i64) -> Value {
        json!({
            "name": name,
            "description": "contacts to the lake",
            "flowSpec": {"id": CRM_TO_AEP_ID, "version": "1.0"},
            "sourceConnectionIds": [self.source],
            "targetConnectionIds": [self.target],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "LastModifiedDate",
                                            "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}}},
                {"name": "Mapping", "params": {"mappingId": self.mapping, "mappingVersion": 0}}],
            "scheduleParams": {"startTime": start_s.to_string(), "frequency": "minute",
                               "interval": "15", "backfill": "true"}
        })
    }
}

impl Api {
    /// A Data Prep request (`/mappingSets…`) with every header a client sends.
    pub async fn conversion(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.emulator.conversion_url()))
            .bearer_auth(&self.token)
            .header("x-api-key", DEMO_CLIENT_ID)
            .header("x-gw-ims-org-id", &self.org)
            .header("x-sandbox-name", &self.sandbox);
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request.send().await.expect("the request is answered")).await
    }

    /// Creates a base, source and target connection and a mapping set in the sandbox.
    pub async fn pipeline(&self) -> Pipeline {
        let (base, _) = self.create(&basic("crm")).await;
        let (source, _) = self
            .create_in("sourceConnections", &source("contacts", &base, "Contact"))
            .await;
        let (target, _) = self.create_in("targetConnections", &target("lake")).await;
        let r = self
            .conversion(Method::POST, "/mappingSets", Some(&mapping_body("Email")))
            .await
            .expect(200);
        let mapping = r.body["id"].as_str().unwrap().to_owned();
        Pipeline {
            base,
            source,
            target,
            mapping,
        }
    }

    /// Creates a flow; its id and etag.
    pub async fn create_flow(&self, body: &Value) -> (String, String) {
        self.create_in("flows", body).await
    }

    /// The emulator clock's now, in ms.
    pub async fn now(&self) -> i64 {
        let r = self
            .admin(Method::POST, "/clock", Some(&json!({"advanceMs": 0})))
            .await
            .expect(200);
        r.body["now"].as_i64().unwrap()
    }

    pub async fn start() -> Api {
        Api::with(Options {
            seed: Some(42),
            ..Options::default()
        })
        .await
    }

    pub async fn with(options: Options) -> Api {
        let emulator = Emulator::start(options).await.expect("the emulator starts");
        let http = http();
        let token = token(&http, &emulator.base_url(), DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
        Api {
            emulator,
            http,
            token,
            org: DEMO_ORG.to_owned(),
            sandbox: "prod".to_owned(),
        }
    }

    pub fn flow(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.flow_url())
    }

    /// A Flow Service request with every header a client sends.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.call_with(method, path, body, &[]).await
    }

    /// A request with the token, API key, organization and sandbox headers set.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.flow(path))
            .bearer_auth(&self.token)
            .header("x-api-key", DEMO_CLIENT_ID)
            .header("x-gw-ims-org-id", &self.org)
            .header("x-sandbox-name", &self.sandbox)
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.request(method, path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request.send().await.expect("the request is answered")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn create(&self, body: &Value) -> (String, Option<String>) {
        let r = self.post("/connections", body).await.expect(201);
        let etag = r.body["etag"].as_str().map(str::to_owned);
        (r.body["id"].as_str().unwrap().to_owned(), etag)
    }

    /// Creates a record of `kind` (`sourceConnections`, …); its id and etag.
    pub async fn create_in(&self, kind: &str, body: &Value) -> (String, String) {
        let r = self.post(&format!("/{kind}"), body).await.expect(201);
        let etag = r.body["etag"].as_str().unwrap().to_owned();
        (r.body["id"].as_str().unwrap().to_owned(), etag)
    }

    /// A Catalog request (`/dataSets…`) with every header a client sends.
    pub async fn catalog(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.emulator.catalog_url()))
            .bearer_auth(&self.token)
            .header("x-api-key", DEMO_CLIENT_ID)
            .header("x-gw-ims-org-id", &self.org)
            .header("x-sandbox-name", &self.sandbox);
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request.send().await.expect("the request is answered")).await
    }

    pub async fn patch(&self, id: &str, etag: &str, ops: &Value) -> Reply {
        self.call_with(
            Method::PATCH,
            &format!("/connections/{id}"),
            Some(ops),
            &[("if-match", etag)],
        )
        .await
    }

    pub async fn item(&self, id: &str) -> Value {
        let r = self.get(&format!("/connections/{id}")).await.expect(200);
        r.body["items"][0].clone()
    }

    /// An admin endpoint (`/__emulator/…`).
    pub async fn admin(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}/__emulator{path}", self.emulator.base_url()));
        if let Some(body) = body {
            request = request.json(body);
        }
        reply(request.send().await.expect("the admin request is answered")).await
    }

    /// Requests counted for a method and route (relative to the Flow Service base).
    pub async fn count(&self, method: &str, route: &str) -> u64 {
        let stats = self.admin(Method::GET, "/stats", None).await.body;
        let route = format!("{FLOW_BASE}{route}");
        stats["requests"]
            .as_array()
            .expect("the stats body lists requests")
            .iter()
            .filter(|r| r["method"] == method && r["route"] == route.as_str())
            .map(|r| r["count"].as_u64().expect("each request row has a count"))
            .sum()
    }

    /// Every stored connection, as the admin dump shows them.
    pub async fn stored(&self) -> Vec<Value> {
        self.admin(Method::GET, "/connections", None)
            .await
            .body
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn advance_clock(&self, ms: i64) {
        self.admin(Method::POST, "/clock", Some(&json!({"advanceMs": ms})))
            .await
            .expect(200);
    }

    pub async fn script(&self, method: &str, fault: &str) {
        let body = json!({"method": method, "fault": fault});
        self.admin(Method::POST, "/faults/script", Some(&body))
            .await
            .expect(200);
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("the body arrives");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("the body is JSON")
    };
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> String {
    let response = http
        .post(format!("{base}/ims/token/v3"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=openid,AdobeID"
        ))
        .send()
        .await
        .unwrap();
    let r = reply(response).await.expect(200);
    r.body["access_token"].as_str().unwrap().to_owned()
}
