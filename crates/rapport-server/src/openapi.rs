//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{
    analysis, cases, contact_policy, customers, feedback, ingest, journeys, keys, metrics, ops, prediction, privacy,
    surveys, users, webhooks, widget,
};
use crate::error::{ErrorBody, ErrorCode, ErrorDetail, ErrorPayload};

#[derive(OpenApi)]
#[openapi(
    info(title = "Rapport API", description = "Customer experience management: Segment-compatible event ingestion, \
        one customer across channels. Errors are `{\"error\":{\"code\",\"message\",\"details\"}}`. \
        For Segment's analytics.js, `/v1/t`, `/v1/i`, `/v1/p`, `/v1/s`, `/v1/g`, `/v1/a` and `/v1/b` are aliases of \
        track, identify, page, screen, group, alias and batch, and a `writeKey` in the body stands in for the \
        Authorization header."),
    paths(
        ingest::track, ingest::identify, ingest::page, ingest::screen, ingest::group, ingest::alias, ingest::batch,
        customers::get_customer, customers::search_customers, customers::timeline, customers::merges,
        customers::undo_merge, keys::create_key, surveys::create_survey, surveys::list_surveys, surveys::get_survey,
        surveys::update_survey, surveys::submit_response, surveys::list_responses, surveys::list_invitations,
        surveys::dry_run, metrics::report, metrics::compare, metrics::get_settings, metrics::put_settings, contact_policy::get_policy, contact_policy::put_policy,
        feedback::submit, feedback::list, feedback::get_one, feedback::get_taxonomy, feedback::put_taxonomy,
        feedback::get_settings, feedback::put_settings, feedback::topics, feedback::themes, feedback::list_alerts,
        feedback::evaluate, feedback::domain_events, webhooks::create, webhooks::list, webhooks::get_one,
        webhooks::delete, webhooks::enable, webhooks::disable, webhooks::deliveries, webhooks::replay,
        cases::list, cases::create, cases::get_one, cases::transition, cases::add_note, cases::get_settings,
        cases::put_settings, cases::check_sla, cases::recovery, analysis::root_causes, analysis::drivers,
        analysis::list_plans, analysis::create_plan, analysis::get_plan, analysis::put_plan,
        journeys::list, journeys::create, journeys::get_one, journeys::put, journeys::delete, journeys::analytics, journeys::map, prediction::get_settings,
        prediction::put_settings, prediction::train, prediction::model, prediction::refresh, prediction::list,
        prediction::customer, prediction::accounts, prediction::clv, ops::healthz, ops::readyz,
        ops::metrics, ops::openapi, users::create, users::list, users::get_one, users::put, users::entries,
        users::verify, users::keys, privacy::put_consent, privacy::customer_consent, privacy::export, privacy::erase,
        privacy::get_settings, privacy::put_settings, privacy::run_retention, widget::eligibility, widget::answers,
    ),
    components(schemas(ErrorBody, ErrorPayload, ErrorDetail, ErrorCode)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        // Segment SDKs send the key as the Basic user name with an empty password.
        components.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
    }
}
