//! Village projects and their five-in-place steps: rules, transactions and
//! the gaps the progress report reads.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use landpatrol_sync::{ErrorCode, Role};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::types::*;
use crate::auth::{AuthUser, Scope};
use crate::cases::store::local_today;
use crate::db::entities::{project_steps, village_projects};
use crate::error::{ApiError, ApiResult};
use crate::parcels::service::plausible_date;
use crate::photos::evidence::{self, LinkTarget};
use crate::state::AppState;

/// Who registers projects: a town office (its town's) and the bureau.
pub const WRITERS: &[Role] = &[Role::TownOfficer, Role::BureauAdmin];
/// Who records steps: the writers and inspectors (in their scope).
pub const RECORDERS: &[Role] = &[Role::TownOfficer, Role::BureauAdmin, Role::Inspector];

/// Projects that, as of a date, miss a step that was due (see [`five_in_place_gaps`]).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"project_id": "01936f5e-8a2b-7c3d-9e4f-5a6b7c8d9e02", "name": "东刘庄村文化活动中心", "village": "东刘庄村",
    "town_id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "planned_start": "2017-04-01", "missing": ["staking"]}))]
pub struct ProjectGap {
    pub project_id: Uuid,
    pub name: String,
    pub village: String,
    pub town_id: Uuid,
    pub planned_start: NaiveDate,
    pub missing: Vec<String>,
}

fn text(field: &str, v: &str, max: usize) -> ApiResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::field(field, format!("1 to {max} characters")));
    }
    Ok(v.to_owned())
}

/// The steps missing on `as_of` given the steps done (on or before `as_of`).
pub fn missing(p: &village_projects::Model, done: &[(ProjectStep, NaiveDate)], as_of: NaiveDate) -> Vec<ProjectStep> {
    ProjectStep::ALL
        .iter()
        .copied()
        .filter(|s| s.overdue(p.planned_start, p.planned_end, as_of))
        .filter(|s| !done.iter().any(|(d, on)| d == s && *on <= as_of))
        .collect()
}

fn step_view(m: &project_steps::Model) -> Option<StepView> {
    Some(StepView {
        id: m.id,
        step: ProjectStep::parse(&m.step)?,
        done_on: m.done_on,
        person: m.person.clone(),
        note: m.note.clone(),
        photos: serde_json::from_value(m.photos.clone()).unwrap_or_default(),
        recorded_by: m.recorded_by,
        created_at: m.created_at,
    })
}

fn view(state: &AppState, p: &village_projects::Model, steps: &[project_steps::Model]) -> ProjectView {
    let mut steps: Vec<StepView> = steps.iter().filter_map(step_view).collect();
    steps.sort_by_key(|s| s.step);
    let done: Vec<(ProjectStep, NaiveDate)> = steps.iter().map(|s| (s.step, s.done_on)).collect();
    ProjectView {
        id: p.id,
        name: p.name.clone(),
        village: p.village.clone(),
        town_id: p.town_id,
        town: state.towns.get(p.town_id),
        location: Location { lon: p.lon, lat: p.lat },
        planned_start: p.planned_start,
        planned_end: p.planned_end,
        missing: missing(p, &done, local_today()),
        steps,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

async fn steps_of(conn: &impl ConnectionTrait, ids: Vec<Uuid>) -> ApiResult<Vec<project_steps::Model>> {
    Ok(project_steps::Entity::find().filter(project_steps::Column::ProjectId.is_in(ids)).all(conn).await?)
}

/// Registers a project.
pub async fn create(state: &AppState, user: &AuthUser, req: NewProject) -> ApiResult<ProjectView> {
    user.require(WRITERS)?;
    let name = text("name", &req.name, 200)?;
    let village = text("village", &req.village, 100)?;
    let point = req.location.to_wgs84()?;
    for (field, d) in [("planned_start", req.planned_start), ("planned_end", req.planned_end)] {
        plausible_date(field, d)?;
    }
    if req.planned_end < req.planned_start {
        return Err(ApiError::field(
            "planned_end",
            format!("planned_end {} is before planned_start {}", req.planned_end, req.planned_start),
        ));
    }
    let town = match req.town.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(key) => crate::auth::service::resolve_town(&state.db, key).await?.id,
        None => state
            .towns
            .locate(point.lon, point.lat)
            .town
            .map(|t| t.id)
            .ok_or_else(|| ApiError::field("town", "the location is outside every town; name the town"))?,
    };
    user.require_town(Some(town))?;
    let now = Utc::now();
    let m = village_projects::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        village: Set(village),
        town_id: Set(town),
        lon: Set(point.lon),
        lat: Set(point.lat),
        planned_start: Set(req.planned_start),
        planned_end: Set(req.planned_end),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(view(state, &m, &[]))
}

async fn load(conn: &impl ConnectionTrait, user: &AuthUser, id: Uuid) -> ApiResult<village_projects::Model> {
    let m = village_projects::Entity::find_by_id(id).one(conn).await?.ok_or_else(|| ApiError::not_found("project"))?;
    if !user.scope().covers(Some(m.town_id)) {
        return Err(ApiError::not_found("project"));
    }
    Ok(m)
}

/// One project with its steps.
pub async fn get(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<ProjectView> {
    let p = load(&state.db, user, id).await?;
    let steps = steps_of(&state.db, vec![p.id]).await?;
    Ok(view(state, &p, &steps))
}

/// The projects in the caller's scope, oldest first.
pub async fn list(state: &AppState, user: &AuthUser, q: &ProjectQuery) -> ApiResult<ProjectPage> {
    let limit = crate::alerts::service::page_limit(q.limit, 100)?;
    let mut find = village_projects::Entity::find();
    if let Scope::Towns(list) = user.scope() {
        find = find.filter(village_projects::Column::TownId.is_in(list));
    }
    if let Some(key) = q.town.as_deref().filter(|k| !k.is_empty()) {
        let town = crate::auth::service::resolve_town(&state.db, key).await?;
        user.require_town(Some(town.id))?;
        find = find.filter(village_projects::Column::TownId.eq(town.id));
    }
    if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        let after = Uuid::parse_str(c).map_err(|_| {
            ApiError::new(ErrorCode::InvalidQuery, "cursor is not one this server gave")
                .with_details(json!({ "field": "cursor" }))
        })?;
        find = find.filter(village_projects::Column::Id.gt(after));
    }
    let mut rows = find.order_by_asc(village_projects::Column::Id).limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = if more { rows.last().map(|r| r.id.to_string()) } else { None };
    let steps = steps_of(&state.db, rows.iter().map(|p| p.id).collect()).await?;
    let mut by_project: HashMap<Uuid, Vec<project_steps::Model>> = HashMap::new();
    for s in steps {
        by_project.entry(s.project_id).or_default().push(s);
    }
    let items = rows.iter().map(|p| view(state, p, by_project.get(&p.id).map(Vec::as_slice).unwrap_or(&[]))).collect();
    Ok(ProjectPage { items, next_cursor })
}

/// Records a step. The same step sent again with the same content answers
/// `(false, …)`; with other content it is `409 duplicate_record`.
pub async fn record_step(state: &AppState, user: &AuthUser, id: Uuid, req: NewStep) -> ApiResult<(bool, ProjectView)> {
    user.require(RECORDERS)?;
    let step = ProjectStep::parse(req.step.trim()).ok_or_else(|| {
        let names: Vec<&str> = ProjectStep::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::field("step", format!("{:?} is not a step; the steps are {}", req.step, names.join(", ")))
    })?;
    plausible_date("done_on", req.done_on)?;
    if req.done_on > local_today() {
        return Err(ApiError::field("done_on", format!("{} is after today ({})", req.done_on, local_today())));
    }
    let person = text("person", &req.person, 100)?;
    if req.note.chars().count() > 2000 {
        return Err(ApiError::field("note", "at most 2000 characters"));
    }
    let note = req.note.trim().to_owned();
    let photos = crate::cases::service::check_photos(&req.photos)?;
    let txn = state.db.begin().await?;
    let p = load(&txn, user, id).await?;
    let existing = project_steps::Entity::find()
        .filter(project_steps::Column::ProjectId.eq(p.id))
        .filter(project_steps::Column::Step.eq(step.as_str()))
        .one(&txn)
        .await?;
    if let Some(old) = existing {
        let old_photos: Vec<String> = serde_json::from_value(old.photos.clone()).unwrap_or_default();
        if old.done_on == req.done_on && old.person == person && old.note == note && old_photos == photos {
            drop(txn);
            return Ok((false, get(state, user, id).await?));
        }
        return Err(ApiError::new(
            ErrorCode::DuplicateRecord,
            format!("the step {} is recorded already", step.as_str()),
        )
        .with_details(json!({ "field": "step", "existing": step_view(&old) })));
    }
    let step_id = Uuid::now_v7();
    project_steps::ActiveModel {
        id: Set(step_id),
        project_id: Set(p.id),
        step: Set(step.as_str().to_owned()),
        done_on: Set(req.done_on),
        person: Set(person),
        note: Set(note),
        photos: Set(json!(photos)),
        recorded_by: Set(Some(user.id)),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    if !photos.is_empty() {
        // Noon, Baodi time (UTC+8), of the day the step was done.
        let at = Utc.from_utc_datetime(&req.done_on.and_time(NaiveTime::from_hms_opt(4, 0, 0).unwrap_or_default()));
        let target = LinkTarget {
            kind: "project_step",
            record_id: step_id,
            case_id: None,
            town_id: Some(p.town_id),
            point: Some((p.lon, p.lat)),
            at,
        };
        evidence::link(&txn, &state.settings.photos, Some(user.id), &[(target, photos)]).await?;
    }
    let mut m: village_projects::ActiveModel = p.into();
    m.updated_at = Set(Utc::now());
    m.update(&txn).await?;
    txn.commit().await?;
    Ok((true, get(state, user, id).await?))
}

/// Projects that, as of `as_of`, miss a step that was due (see the due rules), per project.
///
/// `known`: count only what was recorded before this instant (a past report,
/// reproduced as it was); `None`: everything recorded so far. Projects and
/// steps are never changed once recorded, so their entry time is enough.
pub async fn five_in_place_gaps(
    conn: &impl ConnectionTrait,
    as_of: NaiveDate,
    known: Option<chrono::DateTime<Utc>>,
) -> ApiResult<Vec<ProjectGap>> {
    // Nothing is due before the planned start.
    let mut projects = village_projects::Entity::find().filter(village_projects::Column::PlannedStart.lte(as_of));
    let mut done = project_steps::Entity::find()
        .select_only()
        .columns([project_steps::Column::ProjectId, project_steps::Column::Step, project_steps::Column::DoneOn])
        .filter(project_steps::Column::DoneOn.lte(as_of));
    if let Some(cutoff) = known {
        projects = projects.filter(village_projects::Column::CreatedAt.lt(cutoff));
        done = done.filter(project_steps::Column::CreatedAt.lt(cutoff));
    }
    let projects = projects
        .order_by_asc(village_projects::Column::TownId)
        .order_by_asc(village_projects::Column::PlannedStart)
        .order_by_asc(village_projects::Column::Id)
        .all(conn)
        .await?;
    let done: Vec<(Uuid, String, NaiveDate)> = done.into_tuple().all(conn).await?;
    let mut by_project: HashMap<Uuid, Vec<(ProjectStep, NaiveDate)>> = HashMap::new();
    for (p, s, on) in done {
        if let Some(s) = ProjectStep::parse(&s) {
            by_project.entry(p).or_default().push((s, on));
        }
    }
    Ok(projects
        .into_iter()
        .filter_map(|p| {
            let m = missing(&p, by_project.get(&p.id).map(Vec::as_slice).unwrap_or(&[]), as_of);
            (!m.is_empty()).then(|| ProjectGap {
                project_id: p.id,
                name: p.name,
                village: p.village,
                town_id: p.town_id,
                planned_start: p.planned_start,
                missing: m.iter().map(|s| s.as_str().to_owned()).collect(),
            })
        })
        .collect())
}
