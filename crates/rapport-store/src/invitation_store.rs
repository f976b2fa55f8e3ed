//! The survey-invitations half of [`Store`]: created by triggers, decided by the contact policy
//! when due. The SQL is in `sql_invitations.rs`, and a decision's reads in `contact_reads.rs`.

use rand::RngCore;
use rapport_core::identity::Identity;
use rapport_core::ids::{CustomerId, WorkspaceId};

use crate::records::{ContactFacts, InvitationOutcome, InvitationRecord, NewInvitation, SurveyRecord};
use crate::{Backend, Store, StoreError};

/// Survey invitations: created by triggers, decided by the contact policy when due.
impl Store {
    /// Creates pending invitations, skipping any already made for the same survey and event.
    pub async fn create_invitations(
        &self,
        workspace: &WorkspaceId,
        invitations: &[NewInvitation],
    ) -> Result<u64, StoreError> {
        if invitations.is_empty() {
            return Ok(0);
        }
        let mut stored = invitations.to_vec();
        self.blind_records(workspace, &mut stored).await?;
        Ok(dispatch!(self.backend(), sql => sql.create_invitations(workspace, &stored).await)?)
    }

    /// Records an invitation shown now (the survey widget's: there is nothing to send), so the
    /// contact rules count it. Returns its id.
    pub async fn record_shown_invitation(
        &self,
        workspace: &WorkspaceId,
        invitation: &NewInvitation,
        customer: Option<&CustomerId>,
        now_ms: i64,
    ) -> Result<String, StoreError> {
        let mut stored = invitation.clone();
        self.blind_records(workspace, std::slice::from_mut(&mut stored)).await?;
        Ok(dispatch!(self.backend(), sql => sql.insert_shown_invitation(workspace, &stored, customer, now_ms).await)?)
    }

    /// Keeps the answers of a hosted survey's pages sent so far, and the last page they complete.
    pub async fn save_draft(
        &self,
        workspace: &WorkspaceId,
        invitation: &str,
        answers: &serde_json::Value,
        page: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.save_draft(workspace, invitation, answers, page, now_ms).await)?)
    }

    /// The answers kept for a hosted survey's invitation and the last page they complete.
    pub async fn draft(
        &self,
        workspace: &WorkspaceId,
        invitation: &str,
    ) -> Result<Option<(serde_json::Value, i64)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.draft(workspace, invitation).await)?)
    }

    /// Forgets an invitation's kept answers (its response is complete).
    pub async fn delete_draft(&self, workspace: &WorkspaceId, invitation: &str) -> Result<(), StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.delete_draft(workspace, invitation).await)?)
    }

    /// Pending invitations due by `now_ms`, in every workspace, oldest first.
    pub async fn due_invitations(&self, now_ms: i64, limit: usize) -> Result<Vec<InvitationRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let invitations = dispatch!(self.backend(), sql => sql.due_invitations(now_ms, limit).await)?;
        self.reveal_invitations(invitations).await
    }

    /// Takes pending invitations for dispatch at `now_ms` in one write; returns the ids taken
    /// (not those another dispatcher took first).
    pub async fn claim_invitations(&self, ids: &[&str], now_ms: i64) -> Result<Vec<String>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.claim_invitations(ids, now_ms).await)?)
    }

    /// Releases claims made before `before_ms` and never finished (the dispatcher holding them
    /// stopped): those invitations are pending again. Returns how many.
    pub async fn release_stale_claims(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.release_stale_claims(before_ms).await)?)
    }

    pub async fn finish_invitation(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        outcome: &InvitationOutcome,
    ) -> Result<(), StoreError> {
        let mut stored = outcome.clone();
        if let Some(address) = &outcome.address {
            stored.address = Some(self.sealing(workspace).address(address));
            // A refusal's words often quote the address.
            stored.explanation = outcome.explanation.as_ref().map(|text| text.replace(address.as_str(), "<address>"));
        }
        Ok(dispatch!(self.backend(), sql => sql.finish_invitation(workspace, id, &stored).await)?)
    }

    pub async fn invitation(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<InvitationRecord>, StoreError> {
        let invitation = dispatch!(self.backend(), sql => sql.invitation(workspace, id).await)?;
        Ok(self.reveal_invitations(invitation.into_iter().collect()).await?.pop())
    }

    /// A survey's invitations, newest first.
    pub async fn invitations(
        &self,
        workspace: &WorkspaceId,
        survey: &str,
        limit: usize,
    ) -> Result<Vec<InvitationRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let invitations = dispatch!(self.backend(), sql => sql.invitations(workspace, survey, limit).await)?;
        self.reveal_invitations(invitations).await
    }

    /// Sent invitations whose one reminder is due by `now_ms`, in every workspace.
    pub async fn reminders_due(&self, now_ms: i64, limit: usize) -> Result<Vec<InvitationRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let invitations = dispatch!(self.backend(), sql => sql.reminders_due(now_ms, limit).await)?;
        self.reveal_invitations(invitations).await
    }

    /// Takes a due reminder (false when someone else took it) and records it as sent.
    pub async fn claim_reminder(&self, workspace: &WorkspaceId, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.claim_reminder(workspace, id, now_ms).await)?)
    }

    /// Marks invitations sent before `sent_before_ms` and never answered as `expired`.
    pub async fn expire_invitations(&self, sent_before_ms: i64) -> Result<u64, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.expire_invitations(sent_before_ms).await)?)
    }

    /// Every relational survey at its current version, with its workspace.
    pub async fn relational_surveys(&self) -> Result<Vec<(WorkspaceId, SurveyRecord)>, StoreError> {
        Ok(dispatch!(self.backend(), sql => sql.relational_surveys().await)?)
    }

    /// A page of a workspace's customers after `after` (by id), each with the identity to
    /// address it by (user id, else e-mail, else any), if it has one.
    pub async fn customer_contacts(
        &self,
        workspace: &WorkspaceId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<(CustomerId, Option<String>)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut contacts = dispatch!(self.backend(), sql => sql.customer_contacts(workspace, after, limit).await)?;
        self.reveal_keys(workspace, contacts.iter_mut().filter_map(|(_, key)| key.as_mut())).await?;
        Ok(contacts)
    }

    /// Benchmark seeding: invitations already sent, as (survey, customer, identity key, sent at),
    /// stored without checks.
    pub async fn seed_sent_invitations(
        &self,
        workspace: &WorkspaceId,
        rows: &[(String, CustomerId, String, i64)],
    ) -> Result<(), StoreError> {
        let mut stored = rows.to_vec();
        self.remember_keys(workspace, rows.iter().map(|(_, _, key, _)| key.as_str())).await?;
        let sealing = self.sealing(workspace);
        for (_, _, key, _) in &mut stored {
            *key = sealing.blind(key);
        }
        Ok(dispatch!(self.backend(), sql => sql.seed_sent_invitations(workspace, &stored).await)?)
    }

    /// What a contact decision reads about `identity` (`ContactFacts`), in one read.
    pub async fn contact_facts(
        &self,
        workspace: &WorkspaceId,
        identity: &Identity,
    ) -> Result<ContactFacts, StoreError> {
        let mut facts = self.contact_facts_of_many(workspace, std::slice::from_ref(identity)).await?;
        facts.pop().ok_or_else(|| StoreError::Internal("a contact read returned nothing".to_owned()))
    }

    /// What contact decisions read about each of `identities`, in order: on SQLite one read, in
    /// one snapshot (the dispatcher decides a pass's invitations from it).
    pub async fn contact_facts_of_many(
        &self,
        workspace: &WorkspaceId,
        identities: &[Identity],
    ) -> Result<Vec<ContactFacts>, StoreError> {
        let sealing = self.sealing(workspace);
        let keys: Vec<String> = identities.iter().map(|identity| sealing.blind(&identity.key())).collect();
        let mut all = match self.backend() {
            Backend::Sqlite(_) => {
                let workspace = workspace.clone();
                let read = move |connection: &_| crate::contact_reads::sqlite(connection, &workspace, &keys);
                self.sqlite_reader()?.read(read).await?
            }
            Backend::Postgres(sql) => {
                let mut all = Vec::with_capacity(keys.len());
                for key in &keys {
                    all.push(crate::contact_reads::postgres(&sql.pool, workspace, key).await?);
                }
                all
            }
        };
        for subject in all.iter_mut().filter_map(|facts| facts.subject.as_mut()) {
            // The backend gives kind and stored value: open the sealed ones.
            for key in &mut subject.identity_keys {
                if let Some((kind, value)) = rapport_core::sealing::split_sensitive_key(key) {
                    *key = format!("{kind}:{}", sealing.open(crate::sealing::IDENTITY_VALUE, value)?);
                }
            }
            for value in subject.traits.values_mut() {
                *value = sealing.open_trait(value)?;
            }
        }
        Ok(all)
    }

    /// The invitation with this id in whichever workspace holds it.
    pub async fn invitation_anywhere(&self, id: &str) -> Result<Option<InvitationRecord>, StoreError> {
        let invitation = dispatch!(self.backend(), sql => sql.invitation_anywhere(id).await)?;
        Ok(self.reveal_invitations(invitation.into_iter().collect()).await?.pop())
    }

    /// The installation's 256-bit secret called `name`, made on first use and shared by every
    /// process on this database.
    pub async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let mut random = [0_u8; 32];
        rand::rng().fill_bytes(&mut random);
        let candidate: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
        let stored = dispatch!(self.backend(), sql => sql.secret(name, &candidate).await)?;
        Ok(stored.into_bytes())
    }
}
