//! The usage pages: HTML with SVG charts drawn here, as strings, so a page needs no script and fetches nothing;
//! and the key holder's JSON. Every value read from the store goes through [`esc`]. One small stylesheet makes
//! the pages fit a phone (one column, tables that scroll sideways) and a desktop.

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::dashboard::{CHART_DAYS, Dashboard, KeyUsage};
use crate::store::Traffic;

/// How many keys "Top keys" lists.
const TOP_KEYS: usize = 10;

const STYLE: &str = "body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:64rem;padding:1rem;\
color:#1b1f24}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}.cards{display:grid;\
grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.75rem}.card{border:1px solid #d0d7de;\
border-radius:.5rem;padding:.75rem}.card b{display:block;font-size:1.5rem}svg{width:100%;height:auto;\
display:block}.wrap{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{padding:.35rem .5rem;\
border-bottom:1px solid #d0d7de;text-align:left;white-space:nowrap}.n{text-align:right;\
font-variant-numeric:tabular-nums}.legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.85rem}\
.legend i{display:inline-block;width:.7rem;height:.7rem;margin-right:.3rem}td svg{width:6rem}\
.days{overflow-x:auto;direction:rtl}.chart{direction:ltr;\
min-width:30rem;max-height:16rem}.note{color:#57606a;font-size:.9rem}";

/// `text` safe inside HTML and SVG text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

/// A chart's box and base line, 40 px per day: the bars go on the line at y = 150, days' labels below it.
fn chart_start(label: &str, days: usize) -> String {
    let width = 40 * days + 10;
    format!(
        "<div class=\"days\"><svg class=\"chart\" viewBox=\"0 0 {width} 180\" role=\"img\" \
         aria-label=\"{label}\"><title>{label}</title>\
         <line x1=\"5\" y1=\"150\" x2=\"{}\" y2=\"150\" stroke=\"#8c959f\"/>",
        width - 5,
        label = esc(label)
    )
}

/// Requests per day as bars, each with its number above it and a `<title>` naming the day. On a narrow screen
/// the chart scrolls sideways and opens at its right end (`direction: rtl` on the box), where today is.
pub fn bar_chart(label: &str, days: &[(NaiveDate, i64)]) -> String {
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let mut svg = chart_start(label, days.len());
    for (i, (day, n)) in days.iter().enumerate() {
        let x = 10 + 40 * i;
        // Scaled in integers: 130 px is the tallest bar, leaving room for its number above it.
        let height = i64::from(*n > 0) * (n.saturating_mul(130) / max).max(2);
        let y = 150 - height;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"28\" height=\"{height}\" fill=\"#0969da\"><title>{day}: {n}</title>\
             </rect><text x=\"{cx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"middle\">{shown}</text>\
             <text x=\"{cx}\" y=\"168\" font-size=\"10\" text-anchor=\"middle\">{md}</text>",
            cx = x + 14,
            ty = y - 3,
            md = day.format("%m-%d"),
            // A zero needs no number: the empty slot says it.
            shown = if *n == 0 { String::new() } else { n.to_string() },
        );
    }
    svg.push_str("</svg></div>");
    svg
}

/// The parts of a day's answers, bottom up, each with its colour and legend: the rest (2xx, 3xx), 4xx other
/// than 429, 429, 5xx. They add up to the day's requests.
fn parts(t: &Traffic) -> [(u64, &'static str, &'static str); 4] {
    let other_4xx = t.client_errors.saturating_sub(t.throttled);
    let ok = t.requests.saturating_sub(t.client_errors).saturating_sub(t.server_errors);
    [
        (ok, "#0969da", "2xx/3xx"),
        (other_4xx, "#bf8700", "4xx (not 429)"),
        (t.throttled, "#8250df", "429"),
        (t.server_errors, "#cf222e", "5xx"),
    ]
}

/// Answers per day as stacked bars (2xx/3xx, 4xx, 429, 5xx) with the day's total above each and a legend;
/// each segment's `<title>` names its day, class and count.
pub fn status_chart(label: &str, days: &[(NaiveDate, Traffic)]) -> String {
    let max = days.iter().map(|(_, t)| t.requests).max().unwrap_or(0).max(1);
    let mut svg = chart_start(label, days.len());
    for (i, (day, t)) in days.iter().enumerate() {
        let x = 10 + 40 * i;
        let mut y = 150;
        for (n, colour, name) in parts(t) {
            if n == 0 {
                continue;
            }
            // Scaled in integers like bar_chart; a segment is at least 2 px so that one 5xx still shows.
            let height = (n.saturating_mul(130) / max).max(2);
            y -= height;
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"28\" height=\"{height}\" fill=\"{colour}\">\
                 <title>{day} {name}: {n}</title></rect>"
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{cx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"middle\">{shown}</text>\
             <text x=\"{cx}\" y=\"168\" font-size=\"10\" text-anchor=\"middle\">{md}</text>",
            cx = x + 14,
            ty = y - 3,
            md = day.format("%m-%d"),
            shown = if t.requests == 0 { String::new() } else { t.requests.to_string() },
        );
    }
    svg.push_str("</svg></div><p class=\"legend\">");
    // The legend is HTML below the chart, so that it wraps on a phone instead of scrolling away with the bars.
    for (_, colour, name) in parts(&Traffic::default()) {
        let _ = write!(svg, "<span><i style=\"background:{colour}\"></i>{}</span>", esc(name));
    }
    svg.push_str("</p>");
    svg
}

/// The answers per day as a table, newest first: what the chart draws, in numbers, for today and each day
/// that had any.
fn traffic_table(days: &[(NaiveDate, Traffic)]) -> String {
    let mut rows = String::new();
    for (i, (day, t)) in days.iter().rev().enumerate() {
        if i > 0 && t.requests == 0 {
            continue;
        }
        let _ = write!(
            rows,
            "<tr data-day=\"{day}\"><td>{day}</td><td class=\"n requests\">{}</td><td class=\"n client\">{}</td>\
             <td class=\"n server\">{}</td><td class=\"n throttled\">{}</td></tr>",
            t.requests, t.client_errors, t.server_errors, t.throttled
        );
    }
    format!(
        "<div class=\"wrap\"><table id=\"traffic\"><thead><tr><th>Day</th><th class=\"n\">Requests</th>\
         <th class=\"n\">4xx</th><th class=\"n\">5xx</th><th class=\"n\">429</th></tr></thead><tbody>{rows}\
         </tbody></table></div>"
    )
}

/// A thin bar: the used share of a quota.
fn quota_bar(u: &KeyUsage) -> String {
    let (Some(quota), Some(left)) = (u.quota, u.remaining) else { return String::new() };
    let allowance = u.used_in_period.saturating_add(left).max(1);
    let used = (u.used_in_period.clamp(0, allowance) * 100 / allowance).clamp(0, 100);
    let colour = if u.near_quota() { "#cf222e" } else { "#1a7f37" };
    format!(
        "<svg viewBox=\"0 0 100 8\" role=\"img\" aria-label=\"{used}% of {} used\"><rect width=\"100\" height=\"8\" \
         fill=\"#eaeef2\"/><rect width=\"{used}\" height=\"8\" fill=\"{colour}\"/></svg>",
        quota.limit
    )
}

fn limit_text(u: &KeyUsage) -> String {
    u.quota.map_or_else(|| "no quota".to_owned(), |q| format!("{} per {:?}", q.limit, q.period).to_lowercase())
}

fn card(id: &str, label: &str, value: &str) -> String {
    format!("<div class=\"card\">{}<b id=\"{id}\">{}</b></div>", esc(label), esc(value))
}

fn remaining_text(u: &KeyUsage) -> String {
    u.remaining.map_or_else(|| "unlimited".to_owned(), |r| r.to_string())
}

/// The key holder's page: their own numbers and nothing about any other key.
pub fn key_page(u: &KeyUsage) -> String {
    let body = format!(
        "<h1>Usage of {name}</h1><p class=\"note\">Key <code>{id}</code>, plan {plan}</p><div class=\"cards\">{}{}{}\
         </div><h2>Requests per day</h2>{}<p class=\"note\">Counted when the gateway grants them; the last \
         {CHART_DAYS} days, in UTC.</p>",
        card("used", "Used this period", &u.used_in_period.to_string()),
        card("remaining", "Remaining", &remaining_text(u)),
        card("limit", "Quota", &limit_text(u)),
        bar_chart("Requests per day", &u.days),
        name = esc(&u.key_name),
        id = esc(&u.key_id),
        plan = esc(&u.plan_name),
    );
    page("API usage", &body)
}

/// The key holder's usage as JSON.
pub fn key_json(u: &KeyUsage) -> serde_json::Value {
    let days: Vec<_> = u.days.iter().map(|(d, n)| serde_json::json!({ "date": d, "used": n })).collect();
    serde_json::json!({
        "keyId": u.key_id,
        "keyName": u.key_name,
        "planId": u.plan_id,
        "planName": u.plan_name,
        "quota": u.quota.map(|q| serde_json::json!({ "limit": q.limit, "period": q.period })),
        "used": u.used_in_period,
        "remaining": u.remaining,
        "days": days,
    })
}

fn key_table(id: &str, keys: &[&KeyUsage]) -> String {
    if keys.is_empty() {
        return format!("<p id=\"{id}\" class=\"note\">None.</p>");
    }
    let mut rows = String::new();
    for u in keys {
        let _ = write!(
            rows,
            "<tr data-key=\"{key}\" data-plan=\"{plan}\"><td>{name}<br><code>{key}</code></td><td>{plan_name}</td>\
             <td class=\"n used\">{used}</td><td class=\"n remaining\">{left}</td><td>{limit}</td><td>{bar}</td></tr>",
            key = esc(&u.key_id),
            plan = esc(&u.plan_id),
            name = esc(&u.key_name),
            plan_name = esc(&u.plan_name),
            used = u.used_in_period,
            left = esc(&remaining_text(u)),
            limit = esc(&limit_text(u)),
            bar = quota_bar(u),
        );
    }
    format!(
        "<div class=\"wrap\"><table id=\"{id}\"><thead><tr><th>Key</th><th>Plan</th><th class=\"n\">Used</th>\
         <th class=\"n\">Remaining</th><th>Quota</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

/// The operator's page: answers per day by status, requests granted to keys per day, then keys by use, near
/// their quota, and all of them.
pub fn dashboard_page(d: &Dashboard) -> String {
    let today = d.totals.last().map_or(0, |(_, n)| *n);
    let window: i64 = d.totals.iter().map(|(_, n)| *n).sum();
    let answered = d.traffic.last().map(|(_, t)| *t).unwrap_or_default();
    let all: Vec<&KeyUsage> = d.keys.iter().collect();
    let near: Vec<&KeyUsage> = d.keys.iter().filter(|u| u.near_quota()).collect();
    let body = format!(
        "<h1>Tollgate usage</h1><p class=\"note\">{day} (UTC)</p><div class=\"cards\">{}{}{}{}{}{}{}{}</div>\
         <h2>Answers per day</h2>{}{}<p class=\"note\">Every answer of every stage sharing this store, 4xx \
         including 429. Each instance adds its counts about once a minute, so today's run a minute behind.</p>\
         <h2>Requests granted to keys per day</h2>{}<p class=\"note\">As the store counts them for quotas.</p>\
         <h2>Top keys</h2>{}<h2>Keys near their quota</h2>{}<h2>All keys</h2>{}",
        card("answered", "Requests today", &answered.requests.to_string()),
        card("client-errors", "4xx today", &answered.client_errors.to_string()),
        card("server-errors", "5xx today", &answered.server_errors.to_string()),
        card("throttled", "429 today", &answered.throttled.to_string()),
        card("today", "Granted to keys today", &today.to_string()),
        card("window", &format!("Granted, last {CHART_DAYS} days"), &window.to_string()),
        card("keys", "Keys in plans", &d.keys.len().to_string()),
        card("near", "Near their quota", &near.len().to_string()),
        status_chart("Answers per day by status", &d.traffic),
        traffic_table(&d.traffic),
        bar_chart("Requests granted per day, all keys", &d.totals),
        key_table("top", &all[..all.len().min(TOP_KEYS)]),
        key_table("near-quota", &near),
        key_table("all", &all),
        day = d.today,
    );
    page("Tollgate usage", &body)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{KeyUsage, bar_chart, esc, key_page, status_chart};
    use crate::{
        store::Traffic,
        usage::{Period, Quota},
    };

    fn usage(name: &str) -> KeyUsage {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date");
        KeyUsage {
            key_id: "k1".into(),
            key_name: name.into(),
            plan_id: "p".into(),
            plan_name: "Gold".into(),
            quota: Some(Quota { limit: 10, period: Period::Day, offset: 0 }),
            used_in_period: 9,
            remaining: Some(1),
            days: vec![(day, 9)],
        }
    }

    #[test]
    fn every_value_is_escaped() {
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let html = key_page(&usage("<script>alert(1)</script>"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn bars_scale_to_the_largest_day_and_name_their_day() {
        let days = [
            (NaiveDate::from_ymd_opt(2026, 11, 29).expect("d"), 5),
            (NaiveDate::from_ymd_opt(2026, 11, 30).expect("d"), 10),
        ];
        let svg = bar_chart("r", &days);
        assert!(svg.contains("height=\"65\"") && svg.contains("height=\"130\""), "{svg}");
        assert!(svg.contains("<title>2026-11-30: 10</title>"));
        assert!(usage("a").near_quota());
    }

    #[test]
    fn status_bars_stack_to_the_days_requests() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).expect("d");
        let t = Traffic { requests: 10, client_errors: 4, server_errors: 1, throttled: 1 };
        let svg = status_chart("s", &[(day, t)]);
        // 5 answered, 3 other 4xx, 1 429, 1 5xx, scaled to 130 px for 10.
        for (part, height) in [("2xx/3xx: 5", 65), ("4xx (not 429): 3", 39), ("429: 1", 13), ("5xx: 1", 13)] {
            assert!(svg.contains(&format!("height=\"{height}\"")), "{part}: {svg}");
            assert!(svg.contains(&format!("<title>{day} {part}</title>")), "{part}: {svg}");
        }
        assert!(svg.contains(">10</text>"), "the total above the bar");
    }
}
