//! End-to-end tests of the HTTP API: the real server on port 0, once per storage backend.

mod analysis;
mod bad_input;
mod cases;
mod customers;
mod email;
mod feedback;
mod helpers;
mod ingestion;
mod invitations;
mod journeys;
mod messaging;
mod metrics;
mod operations;
mod pages;
mod prediction;
mod privacy;
mod sealing;
mod surveys;
mod trust;
mod webhooks;
mod widget;

/// Instantiates each listed test for both backends: `sqlite::name` and `postgres::name`.
macro_rules! api_suite {
    ($($path:path => $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $path(crate::helpers::TestApp::spawn(rapport_store::BackendKind::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $path(crate::helpers::TestApp::spawn(rapport_store::BackendKind::Postgres).await).await;
                }
            )*
        }
    };
}

api_suite! {
    crate::metrics::nps_by_journey_stage => nps_by_journey_stage,
    crate::sealing::personal_data_is_sealed_at_rest => personal_data_is_sealed_at_rest,
    crate::invitations::a_long_survey_keeps_each_page => a_long_survey_keeps_each_page,
    crate::widget::the_widget_shows_eligible_visitors_and_stores_answers => the_widget_shows_eligible_visitors_and_stores_answers,
    crate::pages::privacy_in_the_dashboard => privacy_in_the_dashboard,
    crate::privacy::consent_is_recorded_and_respected => consent_is_recorded_and_respected,
    crate::privacy::export_and_erasure_are_complete => export_and_erasure_are_complete,
    crate::privacy::retention_removes_what_is_too_old => retention_removes_what_is_too_old,
    crate::pages::pages_need_a_signed_in_person => pages_need_a_signed_in_person,
    crate::pages::roles_reach_what_the_matrix_says => roles_reach_what_the_matrix_says,
    crate::pages::lockout_and_two_factor => lockout_and_two_factor,
    crate::pages::a_surveys_page_explains_who_would_be_asked => a_surveys_page_explains_who_would_be_asked,
    crate::pages::the_builder_sets_the_trigger_and_contact_rules => the_builder_sets_the_trigger_and_contact_rules,
    crate::trust::users_through_the_api => users_through_the_api,
    crate::trust::the_audit_log_detects_tampering => the_audit_log_detects_tampering,
    crate::trust::workspaces_never_see_each_other => workspaces_never_see_each_other,
    crate::trust::public_endpoints_are_limited_and_hardened => public_endpoints_are_limited_and_hardened,
    crate::journeys::kept_visits_follow_new_events_and_merges => kept_visits_follow_new_events_and_merges,
    crate::journeys::a_planted_checkout_friction_ranks_first => a_planted_checkout_friction_ranks_first,
    crate::journeys::without_the_plant_the_app_checkout_is_not_first => without_the_plant_the_app_checkout_is_not_first,
    crate::journeys::journey_definitions_are_checked_and_kept => journey_definitions_are_checked_and_kept,
    crate::ingestion::a_customer_across_web_app_and_phone => a_customer_across_web_app_and_phone,
    crate::ingestion::resending_a_batch_changes_nothing => resending_a_batch_changes_nothing,
    crate::ingestion::every_call_type_is_accepted => every_call_type_is_accepted,
    crate::ingestion::client_clock_skew_is_corrected => client_clock_skew_is_corrected,
    crate::ingestion::analytics_js_requests_are_accepted => analytics_js_requests_are_accepted,
    crate::bad_input::invalid_events_are_named_by_index_and_field => invalid_events_are_named_by_index_and_field,
    crate::bad_input::keys_are_required_and_roles_enforced => keys_are_required_and_roles_enforced,
    crate::bad_input::oversized_and_non_json_bodies_are_refused => oversized_and_non_json_bodies_are_refused,
    crate::bad_input::bad_parameters_are_named => bad_parameters_are_named,
    crate::customers::timeline_pages_through_every_event => timeline_pages_through_every_event,
    crate::customers::admins_undo_merges => admins_undo_merges,
    crate::customers::workspaces_are_isolated => workspaces_are_isolated,
    crate::operations::health_metrics_and_openapi => health_metrics_and_openapi,
    crate::operations::the_master_key_manages_workspaces_and_keys => the_master_key_manages_workspaces_and_keys,
    crate::surveys::responses_land_on_the_customer_once => responses_land_on_the_customer_once,
    crate::surveys::bad_surveys_and_answers_are_named => bad_surveys_and_answers_are_named,
    crate::invitations::triggers_invite_and_the_policy_suppresses_with_reasons => triggers_invite_and_the_policy_suppresses_with_reasons,
    crate::invitations::a_link_invitation_is_answered_once_on_the_hosted_page => a_link_invitation_is_answered_once_on_the_hosted_page,
    crate::invitations::a_relational_survey_invites_every_customer_once_per_period => a_relational_survey_invites_every_customer_once_per_period,
    crate::invitations::a_trigger_can_require_customer_traits => a_trigger_can_require_customer_traits,
    crate::invitations::a_dispatcher_pass_counts_what_it_sent => a_dispatcher_pass_counts_what_it_sent,
    crate::invitations::the_hosted_page_speaks_the_survey_language => the_hosted_page_speaks_the_survey_language,
    crate::metrics::nps_by_month_and_channel_with_intervals_and_changes => nps_by_month_and_channel_with_intervals_and_changes,
    crate::metrics::enps_and_response_rate_read_their_own_data => enps_and_response_rate_read_their_own_data,
    crate::metrics::bad_metric_queries_are_named => bad_metric_queries_are_named,
    crate::metrics::churn_rate_follows_the_workspace_definition => churn_rate_follows_the_workspace_definition,
    crate::metrics::account_nps_weighs_respondents_by_role => account_nps_weighs_respondents_by_role,
    crate::feedback::feedback_of_every_kind_is_analysed_and_linked => feedback_of_every_kind_is_analysed_and_linked,
    crate::feedback::survey_comments_taxonomy_settings_and_themes => survey_comments_taxonomy_settings_and_themes,
    crate::feedback::a_planted_login_spike_raises_exactly_one_alert => a_planted_login_spike_raises_exactly_one_alert,
    crate::webhooks::webhooks_are_signed_retried_and_survive_a_restart => webhooks_are_signed_retried_and_survive_a_restart,
    crate::webhooks::slack_and_jira_connectors_deliver_their_payloads => slack_and_jira_connectors_deliver_their_payloads,
    crate::cases::detractors_open_cases_worked_in_business_hours => detractors_open_cases_worked_in_business_hours,
    crate::analysis::a_planted_topic_leads_root_causes_and_drivers => a_planted_topic_leads_root_causes_and_drivers,
    crate::analysis::an_action_plan_measures_its_effect => an_action_plan_measures_its_effect,
    crate::prediction::planted_churn_signals_are_learned_explained_and_announced => planted_churn_signals_are_learned_explained_and_announced,
    crate::prediction::churn_settings_are_checked => churn_settings_are_checked,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_invitations_on_sqlite() {
    email::email_invitations_sqlite().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_invitations_on_postgres() {
    email::email_invitations_postgres().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_on_sqlite() {
    email::reminders_sqlite().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_on_postgres() {
    email::reminders_postgres().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_and_bounces_on_sqlite() {
    messaging::sms_goes_through_the_provider_and_refusals_bounce(rapport_store::BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_and_bounces_on_postgres() {
    messaging::sms_goes_through_the_provider_and_refusals_bounce(rapport_store::BackendKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_over_starttls() {
    email::starttls_with_a_private_certificate().await;
}
