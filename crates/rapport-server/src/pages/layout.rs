//! The shell every dashboard page shares: head, navigation, skip link, main landmark; the style
//! sheet and the little script (Rapport's own, served from `/assets`, nothing from elsewhere).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::auth::Caller;
use crate::pages::SECTIONS;

/// The hidden field that carries the session's CSRF token: in every form that posts.
pub fn csrf_field(caller: &Caller) -> Markup {
    html! { input type="hidden" name="csrf" value=(caller.csrf.as_deref().unwrap_or_default()); }
}

/// A whole page: `current` is the navigation entry to mark; `caller` absent on the sign-in page.
pub fn page(status: StatusCode, title: &str, caller: Option<&Caller>, current: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Rapport" }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/" { "Rapport" }
                    @if let Some(caller) = caller {
                        nav aria-label="Sections" {
                            ul {
                                @for (path, label, permission) in SECTIONS {
                                    @if caller.role.allows(permission) {
                                    li {
                                        @if path == current {
                                            a href=(path) aria-current="page" { (label) }
                                        } @else {
                                            a href=(path) { (label) }
                                        }
                                    }
                                    }
                                }
                            }
                        }
                        div class="who" {
                            span { "Workspace " strong { (caller.workspace_name) } " · " (caller.role.as_str()) " · " }
                            @if current == "/account" {
                                a href="/account" aria-current="page" { "Account" }
                            } @else {
                                a href="/account" { "Account" }
                            }
                            form method="post" action="/sign-out" {
                                (csrf_field(caller))
                                button type="submit" class="link" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    };
    (status, [(header::CACHE_CONTROL, "no-store")], axum::response::Html(markup.into_string())).into_response()
}

/// A refusal shown at the top of a form's page (`role=alert`, read out at once).
pub fn alert(text: &str) -> Markup {
    html! { p class="error" role="alert" { (text) } }
}

/// What a change did, at the top of its page (`role=status`).
pub fn done(text: Markup) -> Markup {
    html! { p class="better" role="status" { (text) } }
}

/// A page that says what went wrong in words, and what to do.
pub fn problem(status: StatusCode, caller: Option<&Caller>, title: &str, text: &str) -> Response {
    page(status, title, caller, "", html! { h1 { (title) } p class="lead" { (text) } })
}

/// A moment as people read it: `2026-05-28 17:17 UTC` (from milliseconds since the epoch).
pub fn when(ms: i64) -> String {
    crate::services::readable_time(ms)
}

/// The same from an RFC 3339 string as the API writes it.
pub fn readable(rfc3339: &str) -> String {
    crate::services::readable(rfc3339)
}

/// The style class of a sentiment label: negative reads red, positive green.
pub fn sentiment_class(label: &str) -> &'static str {
    match label {
        "negative" => "worse",
        "positive" => "better",
        _ => "",
    }
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLE)
}

pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], SCRIPT)
}

/// Loaded first in every page: keeps any script error where the browser tests read it.
const SCRIPT: &str = r#""use strict";
window.__rapportErrors = [];
window.addEventListener("error", function (event) { window.__rapportErrors.push(String(event.message)); });
window.addEventListener("unhandledrejection", function (event) { window.__rapportErrors.push(String(event.reason)); });
document.addEventListener("securitypolicyviolation", function (event) {
  window.__rapportErrors.push("content security policy: " + event.violatedDirective + " " + event.blockedURI);
});
(function () {
  var original = console.error;
  console.error = function () {
    window.__rapportErrors.push(Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();
"#;

const STYLE: &str = r#":root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --bg: #f5f7fa; --accent: #2563eb; --bad: #c81e1e; --good: #047857; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem 1rem; }
.skip:focus { left: 1rem; z-index: 10; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem 2rem; padding: .75rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; font-size: 1.15rem; color: var(--ink); text-decoration: none; }
nav ul { display: flex; gap: 1.25rem; list-style: none; margin: 0; padding: 0; }
nav a { color: var(--muted); text-decoration: none; padding: .25rem 0; }
nav a[aria-current="page"] { color: var(--ink); font-weight: 600; border-bottom: 2px solid var(--accent); }
.who { margin-left: auto; display: flex; gap: .75rem; align-items: center; color: var(--muted); font-size: .9rem; }
.who form { margin: 0; }
button.link { background: none; border: 0; color: var(--accent); cursor: pointer; font: inherit; padding: 0; text-decoration: underline; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .75rem; }
.lead { color: var(--muted); margin-top: -.5rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 1rem; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.1rem; }
.tile h2 { margin: 0 0 .25rem; font-size: .95rem; color: var(--muted); font-weight: 600; }
.tile .score { font-size: 2rem; font-weight: 700; }
.tile .unit { font-size: .9rem; color: var(--muted); font-weight: 400; }
.tile p { margin: .15rem 0; font-size: .9rem; color: var(--muted); }
.better { color: var(--good); } .worse { color: var(--bad); }
.spark { display: block; margin-top: .5rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.1rem; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.worst td { background: #fdf2f2; }
.empty { background: #fff; border: 1px dashed var(--line); border-radius: 8px; padding: 1.25rem; color: var(--muted); }
.error { background: #fdf2f2; border: 1px solid #f8b4b4; color: var(--bad); border-radius: 6px; padding: .75rem 1rem; }
.filters { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: end; margin-bottom: 1rem; }
label { display: block; font-size: .85rem; color: var(--muted); margin-bottom: .25rem; }
input, select { font: inherit; padding: .45rem .6rem; border: 1px solid #9aa5b1; border-radius: 6px; background: #fff; }
button.primary { font: inherit; padding: .5rem 1rem; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
.signin { max-width: 28rem; margin: 3rem auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1.5rem; }
.signin input { width: 100%; }
.row { margin-bottom: 1rem; }
textarea { font: inherit; padding: .45rem .6rem; border: 1px solid #9aa5b1; border-radius: 6px; max-width: 100%; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 0 0 1rem; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
h3 { font-size: 1rem; margin: 1rem 0 .5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
form.inline { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin: 0; }
button.danger { font: inherit; padding: .5rem 1rem; border: 0; border-radius: 6px; background: var(--bad); color: #fff; cursor: pointer; }
button:not(.primary):not(.link):not(.danger) { font: inherit; padding: .4rem .75rem; border: 1px solid #9aa5b1; border-radius: 6px; background: #fff; cursor: pointer; }
p.better[role=status] { background: #f0fdf4; border: 1px solid #bbf7d0; border-radius: 6px; padding: .75rem 1rem; }
figure { margin: 0; }
svg.quadrant { max-width: 720px; display: block; }
iframe.preview { width: 100%; min-height: 36rem; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: .75rem 0; }
.map svg { max-width: 100%; height: auto; }
.hint { font-size: .85rem; color: var(--muted); }
nav.tabs { display: flex; gap: 1rem; margin-bottom: 1rem; }
nav.tabs a { text-decoration: none; color: var(--muted); padding: .25rem 0; }
nav.tabs a[aria-current="page"] { color: var(--ink); font-weight: 600; border-bottom: 2px solid var(--accent); }
ol.feedback { list-style: none; padding: 0; display: grid; gap: .75rem; }
ol.feedback p { margin: .25rem 0; }
mark { background: #fef3c7; border-radius: 3px; padding: 0 .1em; }
.chip { display: inline-block; font-size: .8rem; padding: .1rem .5rem; margin: 0 .35rem .25rem 0; border-radius: 999px; background: #e0e7ff; color: #1e3a8a; text-decoration: none; }
@media (max-width: 640px) { main { padding: 1rem; } .who { margin-left: 0; } h1 { font-size: 1.35rem; } }
"#;
