//! Periodic sweeps: deadlines 7 days and 1 day ahead and passed, and
//! escalation of town alerts nobody acknowledged. Both are idempotent: every
//! alert they raise has a key, recorded once however often (and on however
//! many instances) they run.

use std::collections::HashSet;

use chrono::{NaiveDate, Utc};
use landpatrol_sync::CaseStatus;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::json;

use super::{AlertKind, NewAlert, case_detail, record};
use crate::cases::store::local_today;
use crate::db;
use crate::db::entities::{alerts, cases};
use crate::error::ApiResult;
use crate::state::AppState;

/// The deadline alert a case is due for on `today`, if any: the most
/// pressing one (a case first seen a day before its deadline gets the 1-day
/// alert, not also the 7-day one).
pub fn deadline_kind(deadline: NaiveDate, today: NaiveDate) -> Option<AlertKind> {
    let days = (deadline - today).num_days();
    match days {
        d if d < 0 => Some(AlertKind::DeadlinePassed),
        0..=1 => Some(AlertKind::Deadline1d),
        2..=7 => Some(AlertKind::Deadline7d),
        _ => None,
    }
}

fn deadline_key(kind: AlertKind, case: &cases::Model, deadline: NaiveDate) -> String {
    format!("{}:{}:{deadline}", kind.as_str(), case.id)
}

/// Raises the deadline alerts due on `today`; returns how many were new.
pub async fn deadlines(state: &AppState, today: NaiveDate) -> ApiResult<usize> {
    let open: Vec<&str> = CaseStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect();
    let horizon = today + chrono::Duration::days(7);
    let mut after = None;
    let mut raised = 0;
    loop {
        let mut q = cases::Entity::find()
            .filter(cases::Column::Deleted.eq(false))
            .filter(cases::Column::Status.is_in(open.clone()))
            .filter(cases::Column::Deadline.lte(horizon))
            .order_by_asc(cases::Column::Id)
            .limit(500);
        if let Some(id) = after {
            q = q.filter(cases::Column::Id.gt(id));
        }
        let page = q.all(&state.db).await?;
        let Some(last) = page.last().map(|c| c.id) else { break };
        after = Some(last);
        let due: Vec<(AlertKind, String, &cases::Model)> = page
            .iter()
            .filter_map(|c| {
                let d = c.deadline?;
                let kind = deadline_kind(d, today)?;
                Some((kind, deadline_key(kind, c, d), c))
            })
            .collect();
        let keys: Vec<String> = due.iter().map(|(_, k, _)| k.clone()).collect();
        let known: HashSet<String> = alerts::Entity::find()
            .select_only()
            .column(alerts::Column::DedupeKey)
            .filter(alerts::Column::DedupeKey.is_in(keys))
            .into_tuple::<Option<String>>()
            .all(&state.db)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let fresh: Vec<_> = due.into_iter().filter(|(_, k, _)| !known.contains(k)).collect();
        if fresh.is_empty() {
            continue;
        }
        let txn = state.db.begin().await?;
        for (kind, key, c) in fresh {
            let title = match kind {
                AlertKind::DeadlinePassed => format!("Case {} is past its deadline", c.case_number),
                AlertKind::Deadline1d => format!("Case {} is due tomorrow or today", c.case_number),
                _ => format!("Case {} is due within 7 days", c.case_number),
            };
            let alert = NewAlert {
                town_id: c.town_id,
                kind,
                case_id: Some(c.id),
                tip_id: None,
                title,
                detail: case_detail(c),
                dedupe_key: Some(key),
            };
            if record(&txn, alert).await?.is_some() {
                raised += 1;
            }
        }
        txn.commit().await?;
        state.alerts.wake();
    }
    Ok(raised)
}

/// Raises a bureau alert for every town alert unacknowledged for longer than
/// `alerts.escalate_after_secs`; returns how many.
pub async fn escalations(state: &AppState) -> ApiResult<usize> {
    let after = i64::try_from(state.settings.alerts.escalate_after_secs).unwrap_or(i64::MAX / 2);
    let cutoff = Utc::now() - chrono::Duration::seconds(after);
    let stale = alerts::Entity::find()
        .filter(alerts::Column::AckedAt.is_null())
        .filter(alerts::Column::EscalatedAt.is_null())
        .filter(alerts::Column::TownId.is_not_null())
        .filter(alerts::Column::CreatedAt.lte(cutoff))
        .order_by_asc(alerts::Column::CreatedSeq)
        .limit(500)
        .all(&state.db)
        .await?;
    let mut raised = 0;
    for a in stale {
        let txn = state.db.begin().await?;
        if escalate(&txn, state, &a).await? {
            raised += 1;
        }
        txn.commit().await?;
    }
    if raised > 0 {
        state.alerts.wake();
    }
    Ok(raised)
}

async fn escalate(conn: &impl ConnectionTrait, state: &AppState, a: &alerts::Model) -> ApiResult<bool> {
    // Re-read inside the transaction: acknowledged or escalated meanwhile?
    let Some(cur) = alerts::Entity::find_by_id(a.id).one(conn).await? else { return Ok(false) };
    if cur.acked_at.is_some() || cur.escalated_at.is_some() {
        return Ok(false);
    }
    let town = cur.town_id.and_then(|t| state.towns.get(t));
    let town_name = town.as_ref().map_or_else(|| "a town".to_owned(), |t| t.name.clone());
    let hours = state.settings.alerts.escalate_after_secs as f64 / 3600.0;
    let raised = record(
        conn,
        NewAlert {
            town_id: None,
            kind: AlertKind::Escalation,
            case_id: cur.case_id,
            tip_id: cur.tip_id,
            title: format!("Not acknowledged by {town_name} within {hours:.0} h: {}", cur.title),
            detail: json!({
                "alert_id": cur.id, "event_id": cur.created_seq, "kind": cur.kind, "town_id": cur.town_id,
                "town": town, "created_at": cur.created_at, "detail": cur.detail,
            }),
            dedupe_key: Some(format!("escalation:{}", cur.id)),
        },
    )
    .await?;
    let now = Utc::now();
    let mut m: alerts::ActiveModel = cur.clone().into();
    m.escalated_at = Set(Some(now));
    m.rev = Set(cur.rev + 1);
    m.seq = Set(db::next_seq(conn).await?);
    m.updated_at = Set(now);
    m.update(conn).await?;
    Ok(raised.is_some())
}

/// Runs both sweeps every `alerts.sweep_interval_secs`.
pub async fn run(state: AppState) {
    let every = std::time::Duration::from_secs(state.settings.alerts.sweep_interval_secs);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match deadlines(&state, local_today()).await {
            Ok(n) if n > 0 => tracing::info!(alerts = n, "deadline alerts raised"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
        }
        match escalations(&state).await {
            Ok(n) if n > 0 => tracing::info!(alerts = n, "alerts escalated to the bureau"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "escalation sweep failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_pressing_deadline_alert_is_due() {
        let today = NaiveDate::from_ymd_opt(2017, 6, 1).unwrap();
        let d = |n: i64| today + chrono::Duration::days(n);
        assert_eq!(deadline_kind(d(8), today), None);
        assert_eq!(deadline_kind(d(7), today), Some(AlertKind::Deadline7d));
        assert_eq!(deadline_kind(d(2), today), Some(AlertKind::Deadline7d));
        assert_eq!(deadline_kind(d(1), today), Some(AlertKind::Deadline1d));
        assert_eq!(deadline_kind(d(0), today), Some(AlertKind::Deadline1d));
        assert_eq!(deadline_kind(d(-1), today), Some(AlertKind::DeadlinePassed));
    }
}
