//! The report as a spreadsheet (CSV, UTF-8 with a byte-order mark so that
//! Excel reads Chinese correctly) and as a printable HTML page.

use std::fmt::Write;

use landpatrol_sync::{CaseSource, CaseStatus};

use super::{ProgressReport, TargetState, TownProgress};

fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(String::new, |r| format!("{:.1}", r * 100.0))
}

/// A rate on the printable page: a period with nothing to count shows 0, not a blank.
fn pct_cell(v: Option<f64>) -> String {
    format!("{:.1}%", v.unwrap_or(0.0) * 100.0)
}

fn state_name(s: TargetState) -> &'static str {
    match s {
        TargetState::Met => "met",
        TargetState::OnTrack => "on_track",
        TargetState::AtRisk => "at_risk",
        TargetState::NotMet => "not_met",
        TargetState::NotApplicable => "not_applicable",
    }
}

fn place(p: &TownProgress) -> (String, String) {
    match (&p.town, p.unassigned) {
        (Some(t), _) => (t.code.clone(), t.name.clone()),
        (None, true) => (String::new(), "未分配 unassigned".to_owned()),
        (None, false) => (String::new(), "全区 district".to_owned()),
    }
}

/// The figures of one section in column order (see [`csv`]).
fn row(r: &ProgressReport, p: &TownProgress) -> Vec<String> {
    let (code, name) = place(p);
    let mut cells = vec![
        r.as_of.to_string(),
        code,
        name,
        p.cases_total.to_string(),
        p.open.to_string(),
        p.opened_in_period.to_string(),
        p.closed_in_period.to_string(),
        p.dismissed_in_period.to_string(),
        p.overdue.count.to_string(),
        p.overdue.max_days.to_string(),
        p.on_ledger.to_string(),
        pct(p.rectified_rate),
        pct(p.accepted_rate),
        format!("{:.2}", p.investigation.confiscated_gains_fen as f64 / 100.0),
        p.investigation.disciplinary_actions.to_string(),
        p.investigation.judicial_referrals.to_string(),
        p.investigation.publicised.to_string(),
    ];
    cells.extend(land_cells(p, false));
    for s in CaseSource::ALL {
        let by = p.cases_by_source.get(s.as_str());
        for st in CaseStatus::ALL {
            cells.push(by.and_then(|b| b.get(st.as_str())).copied().unwrap_or(0).to_string());
        }
    }
    for t in &p.targets {
        cells.push(state_name(t.state).to_owned());
    }
    cells
}

/// The land figures of one section: idle land, supply, five-in-place. In
/// the CSV a town with nothing to count has blank cells and rates without a
/// sign; the printable page (`html`) shows 0, rates with `%`, and the
/// campaign-to-date supply rate beside the period's.
fn land_cells(p: &TownProgress, html: bool) -> Vec<String> {
    let none = || if html { "0".to_owned() } else { String::new() };
    let rate = |v: Option<f64>| if html { pct_cell(v) } else { pct(v) };
    let mut cells = match &p.idle_land {
        Some(b) => vec![
            b.newly_idle.to_string(),
            b.disposed.to_string(),
            b.idle_at_end.to_string(),
            format!("{:.0}", b.idle_area_at_end_m2),
        ],
        None => vec![none(), none(), none(), none()],
    };
    match &p.supply {
        Some(s) => {
            cells.extend([
                format!("{:.0}", s.stock_at_start_m2 + s.approved_in_period_m2),
                format!("{:.0}", s.supplied_in_period_m2),
                rate(s.rate),
            ]);
            if html {
                cells.push(rate(s.cumulative_rate));
            }
        }
        None => {
            cells.extend([none(), none(), rate(None)]);
            if html {
                cells.push(rate(None));
            }
        }
    }
    cells.push(p.five_in_place.projects_missing_steps.to_string());
    cells
}

/// The report as CSV: one row per town, then the district.
pub fn csv(r: &ProgressReport) -> String {
    let mut header: Vec<String> = [
        "as_of 截至",
        "town_code 街镇代码",
        "town 街镇",
        "cases 案件",
        "open 未办结",
        "opened_in_period 期内新增",
        "closed_in_period 期内销号",
        "dismissed_in_period 期内撤销",
        "overdue 逾期",
        "overdue_max_days 最长逾期天数",
        "on_ledger 挂账",
        "rectified_rate_% 整改率",
        "accepted_rate_% 验收率",
        "confiscated_gains_yuan 没收违法所得(元)",
        "disciplinary_actions 党政纪处分",
        "judicial_referrals 移送司法",
        "publicised 公开曝光",
        "newly_idle 新增闲置宗数",
        "idle_disposed 处置闲置宗数",
        "idle_at_end 期末闲置宗数",
        "idle_area_at_end_m2 期末闲置面积(㎡)",
        "supply_due_m2 应供地面积(㎡)",
        "supplied_in_period_m2 期内供地面积(㎡)",
        "supply_rate_% 供地率",
        "five_in_place_gaps 五到位缺项项目",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for s in CaseSource::ALL {
        for st in CaseStatus::ALL {
            header.push(format!("{s}_{st}"));
        }
    }
    let first = r.district.as_ref().or(r.towns.first());
    for t in first.map(|p| p.targets.as_slice()).unwrap_or_default() {
        header.push(format!("target: {}", t.label));
    }
    let mut out = String::from("\u{feff}");
    let mut line = |cells: &[String]| {
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, c);
        }
        out.push_str("\r\n");
    };
    line(&header);
    for p in r.towns.iter().chain(r.district.iter()) {
        line(&row(r, p));
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The report as a printable HTML page.
pub fn html(r: &ProgressReport) -> String {
    let mut h = String::new();
    let title = format!("{} — 进展情况 progress as of {}", r.campaign.name, r.as_of);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"/console/icon.svg\"><title>{}</title><style>\
         @font-face{{font-family:\"LP CJK\";src:url(/console/cjk.woff2) format(\"woff2\");\
         unicode-range:U+3000-303F,U+3300-33FF,U+3400-9FFF,U+FF00-FFEF;font-display:swap}}\
         body{{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"WenQuanYi Zen Hei\",\"WenQuanYi Micro Hei\",\
         \"PingFang SC\",\"Hiragino Sans GB\",\"Microsoft YaHei\",SimHei,\"Droid Sans Fallback\",\"LP CJK\",sans-serif;margin:2em;color:#111}}\
         table{{border-collapse:collapse;margin:1em 0;font-size:13px}}th,td{{border:1px solid #999;padding:3px 6px;text-align:right}}\
         th{{background:#eee}}td.l,th.l{{text-align:left}}.met{{color:#176117}}.not_met{{color:#a11}}.at_risk{{color:#b35c00}}\
         .on_track{{color:#1d4f91}}h2{{page-break-before:auto;margin-top:1.5em}}@media print{{body{{margin:0}}section{{page-break-inside:avoid}}}}\
         </style></head><body>",
        esc(&title)
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p>统计期 period {} – {}{}. 生成于 generated {} 北京时间 (UTC+08:00, Baodi time, as the report's days).</p>",
        esc(&title),
        r.period_from,
        r.period_to,
        if r.reconstructed { " (reconstructed from the ledger 据台账重建)" } else { "" },
        (r.generated_at + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M")
    );
    h.push_str(
        "<table><tr><th class=\"l\">街镇 town</th><th>案件 cases</th><th>未办结 open</th><th>期内新增 opened</th>\
         <th>期内销号 closed</th><th>逾期 overdue</th><th>最长逾期(天) max days</th><th>挂账 on ledger</th>\
         <th>整改率 rectified</th><th>验收率 accepted</th><th>没收(元) gains</th><th>处分 discipline</th>\
         <th>移送司法 referrals</th><th>曝光 publicised</th></tr>",
    );
    for p in r.towns.iter().chain(r.district.iter()) {
        let (code, name) = place(p);
        let _ = write!(
            h,
            "<tr><td class=\"l\">{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            esc(&code),
            p.cases_total,
            p.open,
            p.opened_in_period,
            p.closed_in_period,
            p.overdue.count,
            p.overdue.max_days,
            p.on_ledger,
            pct_cell(p.rectified_rate),
            pct_cell(p.accepted_rate),
            p.investigation.confiscated_gains_fen as f64 / 100.0,
            p.investigation.disciplinary_actions,
            p.investigation.judicial_referrals,
            p.investigation.publicised
        );
    }
    h.push_str("</table>");
    h.push_str(
        "<table><tr><th class=\"l\">街镇 town</th><th>新增闲置 newly idle</th><th>处置 disposed</th>\
         <th>期末闲置 idle at end</th><th>期末闲置面积(㎡) idle area</th><th>应供地(㎡) to supply</th>\
         <th>期内供地(㎡) supplied</th><th>本期供地率(%) the period's supply rate</th>\
         <th>累计供地率(%) campaign-to-date supply rate</th><th>五到位缺项 five-in-place gaps</th></tr>",
    );
    for p in r.towns.iter().chain(r.district.iter()) {
        let (code, name) = place(p);
        let _ = write!(h, "<tr><td class=\"l\">{} {}</td>", esc(&name), esc(&code));
        for c in land_cells(p, true) {
            let _ = write!(h, "<td>{}</td>", esc(&c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    for p in r.district.iter().chain(r.towns.iter()) {
        let (code, name) = place(p);
        let _ = write!(
            h,
            "<section><h2>{} {}</h2><table><tr><th class=\"l\">目标 target</th><th class=\"l\">状态 state</th><th class=\"l\">依据 figures</th></tr>",
            esc(&name),
            esc(&code)
        );
        for t in &p.targets {
            let s = state_name(t.state);
            let _ = write!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l {s}\">{s}</td><td class=\"l\">{}</td></tr>",
                esc(&t.label),
                esc(&t.detail)
            );
        }
        h.push_str("</table>");
        if !p.overdue.cases.is_empty() {
            h.push_str("<table><tr><th class=\"l\">逾期案件 overdue case</th><th class=\"l\">来源 source</th><th class=\"l\">状态 status</th><th>期限 deadline</th><th>逾期天数 days</th></tr>");
            for o in &p.overdue.cases {
                let _ = write!(
                    h,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&o.case_number),
                    esc(&o.source),
                    esc(&o.status),
                    o.deadline,
                    o.days_overdue
                );
            }
            h.push_str("</table>");
        }
        if !p.five_in_place.projects.is_empty() {
            h.push_str("<table><tr><th class=\"l\">五到位缺项 project missing steps</th><th class=\"l\">村 village</th><th>计划开工 planned start</th><th class=\"l\">缺项 missing</th></tr>");
            for g in &p.five_in_place.projects {
                let _ = write!(
                    h,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
                    esc(&g.name),
                    esc(&g.village),
                    g.planned_start,
                    esc(&g.missing.join(", "))
                );
            }
            h.push_str("</table>");
        }
        h.push_str("</section>");
    }
    h.push_str("</body></html>\n");
    h
}
