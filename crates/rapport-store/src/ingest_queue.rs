//! Group commit: ingestion requests queue here and one writer task commits many of them in a
//! single transaction. SQLite has one writer anyway, and one fsync per group instead of one per
//! request is what makes durable ingestion fast. A request is answered only after its commit.

use rapport_core::resolution::ResolutionSettings;
use tokio::sync::{mpsc, oneshot};

use crate::records::IngestReceipt;
use crate::{Backend, IngestBatch, StoreError, dispatch};

/// A group stops growing at this many events (one transaction stays short).
const MAX_GROUP_EVENTS: usize = 5_000;
/// Requests waiting beyond this make senders wait: back-pressure instead of unbounded memory.
const QUEUE_DEPTH: usize = 1_024;

#[derive(Debug)]
pub(crate) struct IngestJob {
    pub batch: IngestBatch,
    pub reply: oneshot::Sender<Result<IngestReceipt, StoreError>>,
}

pub(crate) fn start(backend: Backend, settings: ResolutionSettings) -> mpsc::Sender<IngestJob> {
    let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
    tokio::spawn(run_writer(backend, settings, receiver));
    sender
}

async fn run_writer(backend: Backend, settings: ResolutionSettings, mut receiver: mpsc::Receiver<IngestJob>) {
    while let Some(first) = receiver.recv().await {
        let mut group_events = first.batch.events.len();
        let mut jobs = vec![first];
        while group_events < MAX_GROUP_EVENTS {
            let Ok(job) = receiver.try_recv() else { break };
            group_events += job.batch.events.len();
            jobs.push(job);
        }
        let (batches, replies): (Vec<IngestBatch>, Vec<_>) = jobs.into_iter().map(|job| (job.batch, job.reply)).unzip();
        match commit(&backend, &batches, settings).await {
            Ok(receipts) => {
                for (reply, receipt) in replies.into_iter().zip(receipts) {
                    let _ = reply.send(Ok(receipt));
                }
            }
            // One bad batch must not fail its neighbours: retry each alone.
            Err(_) if batches.len() > 1 => {
                for (batch, reply) in batches.into_iter().zip(replies) {
                    let result = commit(&backend, std::slice::from_ref(&batch), settings).await;
                    let _ = reply.send(result.map(|receipts| receipts[0]));
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

async fn commit(
    backend: &Backend,
    batches: &[IngestBatch],
    settings: ResolutionSettings,
) -> Result<Vec<IngestReceipt>, StoreError> {
    let result = dispatch!(backend, sql => sql.ingest_group(batches, settings).await);
    result.map_err(|error| {
        tracing::error!(error = %error, batches = batches.len(), "ingest commit failed");
        StoreError::from(error)
    })
}
