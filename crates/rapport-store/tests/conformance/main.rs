//! The storage conformance suite: every test here runs once on SQLite and once on PostgreSQL.

mod customers;
mod feedback;
mod ingestion;
mod invitations;
mod journeys;
mod keys;
mod metrics;
mod prediction;
mod sealing;
mod surveys;
mod trust;

use rapport_core::event::{BatchEnvelope, Event, parse_event};
use rapport_core::ids::WorkspaceId;
use rapport_store::{IngestBatch, Store};
use serde_json::Value;
use time::OffsetDateTime;

/// Instantiates each listed test for both backends: `sqlite::name` and `postgres::name`.
macro_rules! conformance_suite {
    ($($path:path => $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = rapport_store::testing::TestDatabase::sqlite();
                    $path(database.connect().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = rapport_store::testing::TestDatabase::postgres().await;
                    $path(database.connect().await).await;
                }
            )*
        }
    };
}

conformance_suite! {
    crate::journeys::journey_definitions_and_touchpoint_events => journey_definitions_and_touchpoint_events,
    crate::ingestion::resending_a_batch_stores_nothing_twice => resending_a_batch_stores_nothing_twice,
    crate::ingestion::concurrent_batches_are_all_stored_once => concurrent_batches_are_all_stored_once,
    crate::ingestion::events_keep_every_field => events_keep_every_field,
    crate::ingestion::events_read_back_whole_in_order => events_read_back_whole_in_order,
    crate::customers::one_customer_across_channels => one_customer_across_channels,
    crate::customers::distinct_user_ids_stay_apart => distinct_user_ids_stay_apart,
    crate::customers::undoing_a_merge_separates_for_good => undoing_a_merge_separates_for_good,
    crate::customers::latest_trait_wins_whatever_the_arrival_order => latest_trait_wins_whatever_the_arrival_order,
    crate::customers::timeline_pages_with_a_cursor => timeline_pages_with_a_cursor,
    crate::customers::a_customer_with_very_many_identities_still_reads => a_customer_with_very_many_identities_still_reads,
    crate::keys::keys_authenticate_by_hash_only => keys_authenticate_by_hash_only,
    crate::trust::users_and_sessions => users_and_sessions,
    crate::trust::the_audit_log_is_one_chain_per_workspace => the_audit_log_is_one_chain_per_workspace,
    crate::keys::workspaces_do_not_see_each_other => workspaces_do_not_see_each_other,
    crate::keys::deleting_a_workspace_removes_all_of_it => deleting_a_workspace_removes_all_of_it,
    crate::surveys::survey_versions_never_change => survey_versions_never_change,
    crate::surveys::responses_keep_typed_answers_once => responses_keep_typed_answers_once,
    crate::surveys::a_customers_scores_over_time => a_customers_scores_over_time,
    crate::invitations::invitations_are_made_once_and_dispatched_once => invitations_are_made_once_and_dispatched_once,
    crate::invitations::contact_facts_gather_every_identity_of_the_customer => contact_facts_gather_every_identity_of_the_customer,
    crate::metrics::rollups_return_exactly_what_the_raw_answers_return => rollups_return_exactly_what_the_raw_answers_return,
    crate::metrics::trait_groups_follow_the_identity_graph => trait_groups_follow_the_identity_graph,
    crate::metrics::trait_reports_stay_exact_as_the_graph_changes => trait_reports_stay_exact_as_the_graph_changes,
    crate::metrics::metric_settings_are_kept_per_workspace => metric_settings_are_kept_per_workspace,
    crate::feedback::feedback_is_stored_once_filtered_and_counted => feedback_is_stored_once_filtered_and_counted,
    crate::feedback::survey_comments_are_stored_with_their_response => survey_comments_are_stored_with_their_response,
    crate::feedback::alerts_and_their_events_are_kept => alerts_and_their_events_are_kept,
    crate::prediction::churn_models_scores_and_announcements => churn_models_scores_and_announcements,
}

/// Tests that need the database itself (its bytes, statements behind the store's back).
macro_rules! database_suite {
    ($($path:path => $name:ident),* $(,)?) => {
        mod sqlite_database {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $path(rapport_store::testing::TestDatabase::sqlite()).await;
                }
            )*
        }
        mod postgres_database {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $path(rapport_store::testing::TestDatabase::postgres().await).await;
                }
            )*
        }
    };
}

database_suite! {
    crate::sealing::data_written_before_sealing_is_sealed_when_opened => data_written_before_sealing_is_sealed_when_opened,
    crate::sealing::new_data_is_sealed_as_written => new_data_is_sealed_as_written,
}

/// Parses Segment JSON the way the API does (items name their own `type`).
pub fn events(values: &[Value]) -> Vec<Event> {
    let received_at = OffsetDateTime::now_utc();
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            parse_event(value, index, None, &BatchEnvelope::default(), received_at)
                .unwrap_or_else(|problems| panic!("bad test event {value}: {problems:?}"))
                .0
        })
        .collect()
}

pub async fn workspace(store: &Store, name: &str) -> WorkspaceId {
    store.ensure_workspace(name).await.expect("workspace").id
}

pub async fn ingest(store: &Store, workspace: &WorkspaceId, values: &[Value]) -> rapport_store::records::IngestReceipt {
    store.ingest(IngestBatch { workspace: workspace.clone(), events: events(values) }).await.expect("ingest")
}
