//! Demo data: the Baodi towns, the 2017 campaign, one user per role and a
//! dozen cases across sources and states with a 2017 history on the ledger,
//! parcels (found idle by the 2017 sweeps, with their cases), approvals and
//! village projects, entered on their 2017 days. Loading twice changes nothing.

use chrono::{NaiveDate, TimeZone, Utc};
use landpatrol_sync::{
    CaseSource, CaseStatus, Crs, Disposition, GeoPoint, InspectionKind, InspectionResult, LandClass, Role,
    ViolationType,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::auth::service::{NewUser, create_user};
use crate::campaigns::{self, NewCampaign};
use crate::cases::service;
use crate::cases::types::{CasePatch, NewCase, NewInspection, TransitionRequest};
use crate::db::entities::{cases, users};
use crate::error::ApiResult;
use crate::state::AppState;

/// The demo password of every demo user.
pub const PASSWORD: &str = "landpatrol-demo";
/// Town boundaries shipped with the binary (approximate; see `server/demo/geo/README.md`).
pub const TOWNS_GEOJSON: &str = include_str!("../demo/geo/baodi_towns_approx.geojson");
/// The Open311 `api_key` that `serve --demo` accepts.
pub const DEMO_OPEN311_KEY: &str = "landpatrol-demo-key";
/// Stable id of the demo campaign.
pub const CAMPAIGN_2017: Uuid = Uuid::from_u128(0x0193_0000_2017_7000_8000_0000_0000_2017);

/// What the loader did, for the start-up banner.
#[derive(Debug, Default)]
pub struct DemoReport {
    pub towns: usize,
    pub users: Vec<String>,
    pub cases: usize,
}

fn actor(id: Uuid, name: &str, role: Role, town: Option<Uuid>) -> AuthUser {
    AuthUser { id, username: name.to_owned(), role, town, patrol_towns: Vec::new(), device: None, expires_at: None }
}

fn at(y: i32, m: u32, d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 1, 30, 0).single().unwrap_or_else(Utc::now)
}

fn date(y: i32, m: u32, d: u32) -> ApiResult<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| crate::error::ApiError::field("date", "bad demo date"))
}

/// A small square patch (half-side in degrees) around a point.
fn square(lon: f64, lat: f64, h: f64) -> serde_json::Value {
    json!({"type": "Polygon", "coordinates": [[[lon - h, lat - h], [lon + h, lat - h], [lon + h, lat + h], [lon - h, lat + h], [lon - h, lat - h]]]})
}

/// Loads the demo data (idempotent).
pub async fn load(state: &AppState) -> ApiResult<DemoReport> {
    let mut report = DemoReport::default();
    let doc: serde_json::Value = serde_json::from_str(TOWNS_GEOJSON).map_err(crate::error::ApiError::internal)?;
    let towns = crate::towns::service::import(&state.db, &state.towns, &doc, None, |_, _| {}).await?;
    report.towns = towns.created + towns.updated + towns.unchanged;

    let c = &state.settings.campaign;
    campaigns::create(
        &state.db,
        NewCampaign {
            id: Some(CAMPAIGN_2017),
            name: "2017 违法违规用地治理年 (year of cleaning up illegal land use)".into(),
            starts_on: date(2017, 1, 1)?,
            ends_on: date(2017, 12, 31)?,
            satellite_deadline: date(2017, 5, 31)?,
            legacy_deadline: date(2017, 8, 15)?,
            idle_land_deadline: date(2017, 10, 31)?,
            patrol_days: Some(i32::try_from(c.patrol_deadline_days).unwrap_or(7)),
            tip_days: Some(i32::try_from(c.tip_deadline_days).unwrap_or(15)),
            targets: None,
        },
        (c.patrol_deadline_days, c.tip_deadline_days),
        None,
    )
    .await?;

    let mut wanted: Vec<(String, Role, Option<String>, String)> = vec![
        ("admin".into(), Role::BureauAdmin, None, "区国土分局 bureau admin".into()),
        ("verifier".into(), Role::Verifier, None, "领导小组 verifier".into()),
        ("inspector".into(), Role::Inspector, None, "巡查 inspector".into()),
    ];
    for t in crate::towns::service::list(&state.db).await? {
        wanted.push((
            format!("officer-{}", t.code),
            Role::TownOfficer,
            Some(t.code.clone()),
            format!("{} town office", t.name),
        ));
    }
    for (username, role, town, display) in wanted {
        let exists =
            users::Entity::find().filter(users::Column::Username.eq(&username)).one(&state.db).await?.is_some();
        if !exists {
            create_user(
                &state.db,
                NewUser {
                    username: username.clone(),
                    password: PASSWORD.into(),
                    role,
                    town,
                    patrol_towns: vec![],
                    display_name: Some(display),
                },
            )
            .await?;
        }
        report.users.push(username);
    }

    let existing = cases::Entity::find().filter(cases::Column::CreatedBy.is_not_null()).count(&state.db).await?;
    if existing == 0 {
        load_cases(state).await?;
    }
    if crate::db::entities::parcels::Entity::find().count(&state.db).await? == 0 {
        load_parcels(state).await?;
    }
    report.cases = usize::try_from(cases::Entity::find().count(&state.db).await?).unwrap_or(0);
    if crate::db::entities::approvals::Entity::find().count(&state.db).await? == 0 {
        load_approvals(state).await?;
    }
    if crate::db::entities::village_projects::Entity::find().count(&state.db).await? == 0 {
        load_projects(state).await?;
    }
    Ok(report)
}

async fn user(state: &AppState, name: &str) -> ApiResult<AuthUser> {
    let u = users::Entity::find()
        .filter(users::Column::Username.eq(name))
        .one(&state.db)
        .await?
        .ok_or_else(|| crate::error::ApiError::not_found("demo user"))?;
    let role = Role::parse(&u.role).unwrap_or(Role::Inspector);
    Ok(actor(u.id, &u.username, role, u.town_id))
}

struct DemoCase {
    source: CaseSource,
    lon: f64,
    lat: f64,
    crs: Crs,
    patch: bool,
    description: &'static str,
    address: &'static str,
    land: Option<LandClass>,
    violation: Option<ViolationType>,
    found: (i32, u32, u32),
    /// How far along the lifecycle to take it.
    to: CaseStatus,
}

async fn load_cases(state: &AppState) -> ApiResult<()> {
    use CaseSource as S;
    use CaseStatus as St;
    let admin = user(state, "admin").await?;
    let inspector = user(state, "inspector").await?;
    let verifier = user(state, "verifier").await?;
    let demo = [
        DemoCase {
            source: S::Satellite,
            lon: 117.295129,
            lat: 39.733503,
            crs: Crs::Wgs84,
            patch: true,
            description: "卫片图斑: 新增建设用地约1.2亩",
            address: "北台村东",
            land: Some(LandClass::OutsidePlan),
            violation: Some(ViolationType::BuiltWithoutApproval),
            found: (2017, 3, 20),
            to: St::Reported,
        },
        DemoCase {
            source: S::Satellite,
            lon: 117.341136,
            lat: 39.557182,
            crs: Crs::Wgs84,
            patch: true,
            description: "卫片图斑: 硬化地面",
            address: "尹家铺村北",
            land: Some(LandClass::BasicFarmland),
            violation: Some(ViolationType::FarmlandOccupation),
            found: (2017, 3, 20),
            to: St::Rectifying,
        },
        DemoCase {
            source: S::Satellite,
            lon: 117.346276,
            lat: 39.566657,
            crs: Crs::Wgs84,
            patch: true,
            description: "卫片图斑: 实地伪变化 (大棚)",
            address: "五里台村",
            land: None,
            violation: None,
            found: (2017, 3, 20),
            to: St::Dismissed,
        },
        DemoCase {
            source: S::Legacy,
            lon: 117.306966,
            lat: 39.736745,
            crs: Crs::Wgs84,
            patch: false,
            description: "历史遗留: 彩钢房厂房 800平方米",
            address: "彭庄村西",
            land: Some(LandClass::OutsidePlan),
            violation: Some(ViolationType::BuiltWithoutApproval),
            found: (2017, 2, 10),
            to: St::Rectified,
        },
        DemoCase {
            source: S::Legacy,
            lon: 117.301546,
            lat: 39.734765,
            crs: Crs::Gcj02,
            patch: false,
            description: "历史遗留: 农村宅基地超占",
            address: "北台村",
            land: Some(LandClass::InsidePlan),
            violation: Some(ViolationType::BeyondApproval),
            found: (2017, 2, 12),
            to: St::Accepted,
        },
        DemoCase {
            source: S::Legacy,
            lon: 117.347655,
            lat: 39.558494,
            crs: Crs::Gcj02,
            patch: false,
            description: "历史遗留: 基本农田挖塘养鱼",
            address: "尹家铺村南",
            land: Some(LandClass::BasicFarmland),
            violation: Some(ViolationType::AquacultureOnFarmland),
            found: (2017, 2, 15),
            to: St::Closed,
        },
        DemoCase {
            source: S::Patrol,
            lon: 117.35281,
            lat: 39.567981,
            crs: Crs::Gcj02,
            patch: false,
            description: "动态巡查: 新建砖房约200平方米",
            address: "五里台村东",
            land: Some(LandClass::OutsidePlan),
            violation: Some(ViolationType::BuiltWithoutApproval),
            found: (2017, 5, 20),
            to: St::Registered,
        },
        DemoCase {
            source: S::Patrol,
            lon: 117.313413,
            lat: 39.738027,
            crs: Crs::Gcj02,
            patch: false,
            description: "动态巡查: 堆放建材占用耕地",
            address: "彭庄村",
            land: None,
            violation: Some(ViolationType::FarmlandOccupation),
            found: (2017, 6, 2),
            to: St::Reported,
        },
        DemoCase {
            source: S::IdleLand,
            lon: 117.2915,
            lat: 39.7165,
            crs: Crs::Wgs84,
            patch: true,
            description: "闲置土地: 约定开工日期2015-06-30, 未动工",
            address: "宝平街道工业区",
            land: None,
            violation: Some(ViolationType::IdleLand),
            found: (2017, 4, 1),
            to: St::Registered,
        },
        DemoCase {
            source: S::IdleLand,
            lon: 117.3028,
            lat: 39.6980,
            crs: Crs::Wgs84,
            patch: true,
            description: "闲置土地: 已动工",
            address: "钰华街道",
            land: None,
            violation: Some(ViolationType::IdleLand),
            found: (2017, 4, 1),
            to: St::Reported,
        },
        DemoCase {
            source: S::Tip,
            lon: 117.3098,
            lat: 39.7268,
            crs: Crs::Wgs84,
            patch: false,
            description: "群众举报: 夜间施工建房",
            address: "海滨街道",
            land: None,
            violation: None,
            found: (2017, 7, 8),
            to: St::Reported,
        },
        DemoCase {
            source: S::Patrol,
            lon: 117.95,
            lat: 39.95,
            crs: Crs::Wgs84,
            patch: false,
            description: "动态巡查: 区界外位置 (未分配)",
            address: "区界外",
            land: None,
            violation: None,
            found: (2017, 6, 10),
            to: St::Reported,
        },
    ];
    for d in demo {
        let polygon = d.patch.then(|| square(d.lon, d.lat, 0.0006));
        let creator = if d.source == S::Patrol { &inspector } else { &admin };
        let (_, case) = service::create(
            state,
            creator,
            NewCase {
                id: None,
                source: d.source,
                location: GeoPoint { lon: d.lon, lat: d.lat, crs: d.crs, accuracy_m: Some(8.0), mock: false },
                polygon,
                description: d.description.into(),
                address: d.address.into(),
                land_class: d.land,
                violation_type: d.violation,
                discovered_at: Some(at(d.found.0, d.found.1, d.found.2)),
                external_ref: d.patch.then(|| format!("DEMO-{:.4}-{:.4}", d.lon, d.lat)),
                photos: vec![],
            },
        )
        .await?;
        if d.to == St::Reported {
            continue;
        }
        if d.source == S::Satellite {
            let result = if d.to == St::Dismissed { InspectionResult::FalseChange } else { InspectionResult::Illegal };
            service::add_inspection(
                state,
                &inspector,
                case.id,
                NewInspection {
                    id: None,
                    kind: InspectionKind::SiteCheck,
                    result: Some(result),
                    note: "实地核查".into(),
                    location: None,
                    photos: vec![],
                    inspected_at: Some(at(2017, 4, 2)),
                },
            )
            .await?;
        }
        if d.to == St::Dismissed {
            step(state, &admin, case.id, St::Reported, St::Dismissed, "实地伪变化").await?;
            continue;
        }
        step(state, &admin, case.id, St::Reported, St::Registered, "挂账").await?;
        if d.to == St::Registered {
            continue;
        }
        let disposition = if d.land == Some(LandClass::InsidePlan) {
            Disposition::LegaliseAfterPenalty
        } else {
            Disposition::DemolishSelf
        };
        service::patch(
            state,
            &admin,
            case.id,
            CasePatch {
                base_rev: None,
                fields: serde_json::from_value(json!({"disposition": disposition})).unwrap_or_default(),
            },
        )
        .await?;
        step(state, &admin, case.id, St::Registered, St::Rectifying, "下达整改通知").await?;
        if d.to == St::Rectifying {
            continue;
        }
        step(state, &admin, case.id, St::Rectifying, St::Rectified, "已整改").await?;
        if d.to == St::Rectified {
            continue;
        }
        step(state, &verifier, case.id, St::Rectified, St::Accepted, "验收合格").await?;
        if d.to == St::Accepted {
            continue;
        }
        step(state, &admin, case.id, St::Accepted, St::Closed, "销号").await?;
    }
    date_history(state, cases::Column::CreatedBy.is_not_null()).await
}

/// Gives the demo cases a 2017 history: each case's ledger entries are moved
/// to its discovery day and every sixth day after, in their order, so that a
/// progress report for a day of 2017 shows them as they would have stood.
/// Only the demo loader does this, to cases it just made.
async fn date_history(state: &AppState, which: impl sea_orm::sea_query::IntoCondition) -> ApiResult<()> {
    use crate::db::entities::case_events;
    use sea_orm::sea_query::Expr;
    use sea_orm::{QueryOrder, TransactionTrait};
    let txn = state.db.begin().await?;
    let demo = cases::Entity::find().filter(which).all(&txn).await?;
    for c in demo {
        cases::Entity::update_many()
            .col_expr(cases::Column::CreatedAt, Expr::value(c.discovered_at))
            .filter(cases::Column::Id.eq(c.id))
            .exec(&txn)
            .await?;
        let entries = case_events::Entity::find()
            .filter(case_events::Column::CaseId.eq(c.id))
            .order_by_asc(case_events::Column::Id)
            .all(&txn)
            .await?;
        for (k, e) in entries.iter().enumerate() {
            let at = c.discovered_at + chrono::Duration::days(6 * i64::try_from(k).unwrap_or(0));
            case_events::Entity::update_many()
                .col_expr(case_events::Column::At, Expr::value(at))
                .filter(case_events::Column::Id.eq(e.id))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

async fn step(
    state: &AppState,
    who: &AuthUser,
    id: Uuid,
    from: CaseStatus,
    to: CaseStatus,
    note: &str,
) -> ApiResult<()> {
    service::transition(state, who, id, TransitionRequest { from, to, note: Some(note.into()), photos: vec![] })
        .await?;
    Ok(())
}

/// 2016 parcels in 海滨街道 and 周良街道, entered at the start of 2016: one
/// built on time, the others idle in 2017, when the daily sweep found them
/// and opened their cases; one of them disposed of (construction started) in
/// May 2017. Their history is dated to 2017, so past reports show it.
async fn load_parcels(state: &AppState) -> ApiResult<()> {
    use crate::db::entities::{case_events, land_changes, parcel_disposals, parcels};
    use crate::parcels::types::{DisposalKind, NewDisposal};
    use crate::reports::service::start_of_day;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
    type Demo = (&'static str, &'static str, f64, (i32, u32, u32), Option<(i32, u32, u32)>, (f64, f64));
    let admin = user(state, "admin").await?;
    let list: [Demo; 5] = [
        ("津宝出让(2016)001号", "天津宝坻海滨置业有限公司", 12000.0, (2016, 3, 1), None, (117.2962, 39.7341)),
        (
            "津宝出让(2016)002号",
            "宝坻区海滨物流有限公司",
            8000.0,
            (2016, 6, 1),
            Some((2016, 10, 10)),
            (117.2941, 39.7329),
        ),
        ("津宝划拨(2016)003号", "宝坻区海滨街道办事处", 3000.0, (2016, 1, 15), None, (117.2955, 39.7322)),
        ("津宝出让(2016)004号", "天津周良农业科技有限公司", 20000.0, (2016, 4, 1), None, (117.3418, 39.5578)),
        ("津宝出让(2016)005号", "周良街道某某食品厂", 5000.0, (2016, 11, 1), None, (117.3405, 39.5566)),
    ];
    let entered = start_of_day(date(2016, 1, 1)?);
    let mut disposed_id = None;
    let txn = state.db.begin().await?;
    for (i, (code, holder, area, agreed, actual, (lon, lat))) in list.into_iter().enumerate() {
        let id = Uuid::now_v7();
        if i == 2 {
            disposed_id = Some(id);
        }
        let seq = crate::db::next_seq(&txn).await?;
        parcels::ActiveModel {
            id: Set(id),
            code: Set(code.into()),
            holder: Set(holder.into()),
            area_m2: Set(area),
            agreed_start: Set(date(agreed.0, agreed.1, agreed.2)?),
            actual_start: Set(actual.map(|(y, m, d)| date(y, m, d)).transpose()?),
            town_id: Set(state.towns.locate(lon, lat).town.map(|t| t.id)),
            lon: Set(lon),
            lat: Set(lat),
            polygon: Set(None),
            status: Set("active".into()),
            idle_since: Set(None),
            idle_case_id: Set(None),
            disposed_on: Set(None),
            disposal: Set(None),
            rev: Set(1),
            seq: Set(seq),
            created_seq: Set(seq),
            deleted: Set(false),
            field_clock: Set(json!({ "*": crate::cases::store::server_stamp() })),
            created_by: Set(Some(admin.id)),
            created_at: Set(entered),
            updated_at: Set(entered),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    // The daily sweep on the days they became idle (a year after the agreed start).
    for (m, d) in [(1, 15), (3, 1), (4, 1), (11, 1)] {
        crate::parcels::sweep::run_once(state, date(2017, m, d)?).await?;
    }
    date_history(state, cases::Column::ExternalRef.like("parcel:%")).await?;
    let Some(id) = disposed_id else { return Ok(()) };
    let on = date(2017, 5, 20)?;
    let req = NewDisposal {
        id: None,
        kind: DisposalKind::ConstructionStarted,
        disposed_on: on.to_string(),
        fee_fen: None,
        note: Some("督促动工开发 (construction started after a reminder)".into()),
    };
    crate::parcels::service::dispose(state, &admin, id, req).await?;
    let txn = state.db.begin().await?;
    parcel_disposals::Entity::update_many()
        .col_expr(parcel_disposals::Column::CreatedAt, Expr::value(start_of_day(on)))
        .filter(parcel_disposals::Column::ParcelId.eq(id))
        .exec(&txn)
        .await?;
    land_changes::Entity::update_many()
        .col_expr(land_changes::Column::At, Expr::value(start_of_day(on)))
        .filter(land_changes::Column::RecordId.eq(id))
        .filter(land_changes::Column::Action.eq("disposed"))
        .exec(&txn)
        .await?;
    let case = parcels::Entity::find_by_id(id).one(&txn).await?.and_then(|p| p.idle_case_id);
    case_events::Entity::update_many()
        .col_expr(case_events::Column::At, Expr::value(start_of_day(on)))
        .filter(case_events::Column::CaseId.eq(case.unwrap_or_default()))
        .filter(case_events::Column::Action.eq("parcel_disposed"))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// 2017 approvals (批而未供) with their supplies: 海滨街道 21,000 + 4,000 of
/// 30,000 + 10,000 m² supplied (62.5%), 周良街道 10,000 of 25,000 m² (40%).
async fn load_approvals(state: &AppState) -> ApiResult<()> {
    use crate::approvals::service as approvals;
    use crate::approvals::types::{NewApproval, NewSupply};
    let admin = user(state, "admin").await?;
    type Ymd = (i32, u32, u32);
    /// Number, town, approved on, area, supplies.
    type DemoApproval = (&'static str, &'static str, Ymd, f64, &'static [(Ymd, f64)]);
    let demo: [DemoApproval; 3] = [
        (
            "津宝批〔2017〕3号",
            "120115001",
            (2017, 2, 20),
            30000.0,
            &[((2017, 5, 10), 12000.0), ((2017, 9, 15), 9000.0)],
        ),
        ("津宝批〔2017〕8号", "120115001", (2017, 4, 12), 10000.0, &[((2017, 8, 1), 4000.0)]),
        ("津宝批〔2017〕11号", "120115006", (2017, 3, 1), 25000.0, &[((2017, 10, 20), 10000.0)]),
    ];
    for (code, town, (y, m, d), area, supplies) in demo {
        let (_, a) = approvals::create(
            state,
            &admin,
            NewApproval {
                code: code.into(),
                town: town.into(),
                approved_on: date(y, m, d)?,
                approved_area_m2: area,
                note: "农用地转用 (farmland conversion)".into(),
            },
        )
        .await?;
        for ((y, m, d), area) in supplies {
            let req =
                NewSupply { id: None, supplied_on: date(*y, *m, *d)?, area_m2: *area, note: "出让 (sold)".into() };
            approvals::add_supply(state, &admin, a.id, req).await?;
        }
        approval_entered_then(state, a.id, date(y, m, d)?).await?;
    }
    Ok(())
}

/// Dates a demo approval's entry to the day it was approved, and each of its
/// supplies to the day of the supply, so that past reports, which count what
/// was known by their day, show the demo's 2017.
async fn approval_entered_then(state: &AppState, id: Uuid, day: NaiveDate) -> ApiResult<()> {
    use crate::db::entities::{approval_supplies, approvals};
    use crate::reports::service::start_of_day;
    use sea_orm::sea_query::Expr;
    let db = &state.db;
    approvals::Entity::update_many()
        .col_expr(approvals::Column::CreatedAt, Expr::value(start_of_day(day)))
        .filter(approvals::Column::Id.eq(id))
        .exec(db)
        .await?;
    for s in approval_supplies::Entity::find().filter(approval_supplies::Column::ApprovalId.eq(id)).all(db).await? {
        approval_supplies::Entity::update_many()
            .col_expr(approval_supplies::Column::CreatedAt, Expr::value(start_of_day(s.supplied_on)))
            .filter(approval_supplies::Column::Id.eq(s.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The same for a demo village project and its steps.
async fn project_entered_then(state: &AppState, id: Uuid, day: NaiveDate) -> ApiResult<()> {
    use crate::db::entities::{project_steps, village_projects};
    use crate::reports::service::start_of_day;
    use sea_orm::sea_query::Expr;
    let db = &state.db;
    village_projects::Entity::update_many()
        .col_expr(village_projects::Column::CreatedAt, Expr::value(start_of_day(day)))
        .filter(village_projects::Column::Id.eq(id))
        .exec(db)
        .await?;
    for s in project_steps::Entity::find().filter(project_steps::Column::ProjectId.eq(id)).all(db).await? {
        project_steps::Entity::update_many()
            .col_expr(project_steps::Column::CreatedAt, Expr::value(start_of_day(s.done_on)))
            .filter(project_steps::Column::Id.eq(s.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Two village projects of 2017: one with all five steps, one missing the
/// last three.
async fn load_projects(state: &AppState) -> ApiResult<()> {
    use crate::projects::service as projects;
    use crate::projects::types::{NewProject, NewStep};
    let admin = user(state, "admin").await?;
    /// Name, village, town, (lon, lat), steps done.
    type DemoProject =
        (&'static str, &'static str, &'static str, (f64, f64), &'static [(&'static str, (i32, u32, u32))]);
    let demo: [DemoProject; 2] = [
        (
            "东刘庄村文化活动中心 (village culture centre)",
            "东刘庄村",
            "120115001",
            (117.295129, 39.733503),
            &[
                ("site_selection", (2017, 3, 2)),
                ("approval", (2017, 3, 20)),
                ("staking", (2017, 3, 28)),
                ("construction_supervision", (2017, 4, 20)),
                ("completion_acceptance", (2017, 9, 25)),
            ],
        ),
        (
            "小周庄村卫生室 (village clinic)",
            "小周庄村",
            "120115006",
            (117.341136, 39.557182),
            &[("site_selection", (2017, 4, 6)), ("approval", (2017, 4, 25))],
        ),
    ];
    for (name, village, town, (lon, lat), steps) in demo {
        let p = projects::create(
            state,
            &admin,
            NewProject {
                name: name.into(),
                village: village.into(),
                town: Some(town.into()),
                location: GeoPoint::wgs84(lon, lat)?,
                planned_start: date(2017, 4, 1)?,
                planned_end: date(2017, 9, 30)?,
            },
        )
        .await?;
        for (step, (y, m, d)) in steps {
            let req = NewStep {
                step: (*step).into(),
                done_on: date(*y, *m, *d)?,
                person: "镇国土所 王建国".into(),
                note: String::new(),
                photos: vec![],
            };
            projects::record_step(state, &admin, p.id, req).await?;
        }
        project_entered_then(state, p.id, date(2017, 3, 1)?).await?;
    }
    Ok(())
}
