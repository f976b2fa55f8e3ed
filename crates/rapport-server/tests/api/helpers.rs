use rapport_core::auth::Role;
use rapport_server::hardening::RateLimits;
use rapport_server::services::mail::MailConfig;
use rapport_server::{Application, ServerConfig};
use rapport_store::testing::TestDatabase;
use rapport_store::{BackendKind, Store};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

pub const ADMIN_KEY: &str = "test-master-key-0123456789";

/// A running server on port 0 with a workspace `acme` and one key of each role.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub store: Store,
    pub write_key: String,
    pub read_key: String,
    pub admin_key: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _database: TestDatabase,
}

impl TestApp {
    pub async fn spawn(kind: BackendKind) -> TestApp {
        TestApp::spawn_with(kind, None).await
    }

    /// A server whose e-mail invitations go through `smtp_url`.
    pub async fn spawn_with(kind: BackendKind, smtp_url: Option<String>) -> TestApp {
        TestApp::spawn_sending(kind, smtp_url, None).await
    }

    /// A server whose e-mail invitations go through `smtp_url` and SMS and chat through the
    /// messaging provider at `messaging_url`.
    pub async fn spawn_sending(kind: BackendKind, smtp_url: Option<String>, messaging_url: Option<String>) -> TestApp {
        let database = TestDatabase::create(kind).await;
        let store = database.connect().await;
        let acme = store.ensure_workspace("acme").await.unwrap();
        let write_key = store.create_api_key(&acme, Role::Write).await.unwrap().0;
        let read_key = store.create_api_key(&acme, Role::Read).await.unwrap().0;
        let admin_key = store.create_api_key(&acme, Role::Admin).await.unwrap().0;
        let mail = smtp_url.map(|smtp_url| MailConfig {
            smtp_url,
            from: "Acme Surveys <surveys@acme.example>".to_owned(),
            ca_pem: None,
        });
        let (address, stop, server) = TestApp::serve(&store, mail, messaging_url, RateLimits::default()).await;
        TestApp {
            address,
            client: Client::new(),
            store,
            write_key,
            read_key,
            admin_key,
            stop: Some(stop),
            server: Some(server),
            _database: database,
        }
    }

    async fn serve(
        store: &Store,
        mail: Option<MailConfig>,
        messaging_url: Option<String>,
        limits: RateLimits,
    ) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let config = ServerConfig {
            listen: "127.0.0.1:0".to_owned(),
            admin_key: Some(ADMIN_KEY.to_owned()),
            mail,
            messaging_url,
            public_url: None,
            rate_limits: Some(limits),
        };
        let application = Application::build(config, store.clone()).await.expect("build the application");
        let address = format!("http://{}", application.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            application.run_until_stopped(async { stopped.await.unwrap_or(()) }).await.expect("server runs");
        });
        (address, stop, server)
    }

    /// Stops the server gracefully (its store closes) and starts a new one, with a new store, on
    /// the same database: what a restart of `rapport serve` does.
    pub async fn restart(self) -> TestApp {
        self.restart_with(RateLimits::default()).await
    }

    /// The same, with other rate limits.
    pub async fn restart_with(mut self, limits: RateLimits) -> TestApp {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
        let store = self._database.connect().await;
        let (address, stop, server) = TestApp::serve(&store, None, None, limits).await;
        TestApp { address, store, stop: Some(stop), server: Some(server), ..self }
    }

    /// The database behind the server, for what tests do behind Rapport's back.
    pub fn database(&self) -> &TestDatabase {
        &self._database
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn post(&self, path: &str, key: &str, body: &Value) -> RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(key).json(body)
    }

    pub async fn send(&self, path: &str, body: &Value) -> Response {
        self.post(path, &self.write_key, body).send().await.expect("request")
    }

    pub async fn read(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).bearer_auth(&self.read_key).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// The one customer holding `identity` (TYPE:VALUE), as the API shows it.
    pub async fn customer(&self, identity: &str) -> Value {
        let response = self
            .client
            .get(self.url("/v1/customers"))
            .query(&[("identity", identity)])
            .bearer_auth(&self.read_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body: Value = response.json().await.unwrap();
        let list = body["data"].as_array_mut().unwrap();
        assert_eq!(list.len(), 1, "one customer for {identity}: {list:?}");
        list.remove(0)
    }

    /// `POST /v1/surveys/{survey}/dry-run` with a read key.
    pub async fn dry_run(&self, survey: &str, body: &Value) -> Response {
        let url = self.url(&format!("/v1/surveys/{survey}/dry-run"));
        self.client.post(url).bearer_auth(&self.read_key).json(body).send().await.expect("request")
    }

    pub async fn timeline(&self, customer_id: &str) -> Vec<Value> {
        let body = self.read(&format!("/v1/customers/{customer_id}/timeline?limit=500")).await;
        body["data"].as_array().unwrap().clone()
    }

    /// Creates a person in `acme` through the API (admin key); returns the password Rapport made.
    pub async fn create_user(&self, email: &str, role: &str) -> String {
        let response = self
            .post("/v1/users", &self.admin_key, &serde_json::json!({"email": email, "role": role}))
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["password"].as_str().unwrap().to_owned()
    }

    /// Signs in through the sign-in form (no redirects followed): the response.
    pub async fn sign_in_form(&self, email: &str, password: &str, code: &str) -> Response {
        let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let form = [("email", email), ("password", password), ("code", code)];
        client.post(self.url("/sign-in")).form(&form).send().await.unwrap()
    }

    /// Signs in and reads the session's CSRF token off a page, as a browser would.
    pub async fn session(&self, email: &str, password: &str) -> Session {
        let response = self.sign_in_form(email, password, "").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{email} signs in");
        Session::from_sign_in(self, response).await
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }
}

/// Status and JSON body of a response.
pub async fn status_and_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// Asserts an error response: status, code, and the (index, field) pairs named in details.
pub async fn assert_error(response: Response, status: StatusCode, code: &str, fields: &[(Option<u64>, &str)]) -> Value {
    let (actual_status, body) = status_and_json(response).await;
    assert_eq!(actual_status, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
    let named: Vec<(Option<u64>, String)> = body["error"]["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .map(|detail| (detail["index"].as_u64(), detail["field"].as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<(Option<u64>, String)> =
        fields.iter().map(|(index, field)| (*index, (*field).to_owned())).collect();
    assert_eq!(named, expected, "{body}");
    body
}

/// A person signed in to the dashboard: their cookie and the CSRF token their forms carry.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub landing: String,
    client: Client,
    address: String,
}

impl Session {
    pub async fn from_sign_in(app: &TestApp, response: Response) -> Session {
        let set_cookie = response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let landing = response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
        let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut session = Session { cookie, csrf: String::new(), landing, client, address: app.address.clone() };
        let account = session.get("/account").await.text().await.unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = account.find(marker).expect("every page with a form carries the CSRF token") + marker.len();
        session.csrf = account[start..start + 64].to_owned();
        session
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(format!("{}{path}", self.address)).header("cookie", &self.cookie).send().await.unwrap()
    }

    /// Posts a form with the session's CSRF token.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf", &self.csrf));
        self.post_raw(path, &fields).await
    }

    /// Posts exactly these fields (no CSRF token unless given).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let url = format!("{}{path}", self.address);
        self.client.post(url).header("cookie", &self.cookie).form(form).send().await.unwrap()
    }
}
