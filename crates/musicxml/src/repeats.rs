//! The order in which measures are played when repeats are expanded.
//!
//! Covers what classical scores use: `<repeat>` barlines (with `times`), voltas
//! (`<ending number="1, 2">`), and one D.C. or D.S. jump with Fine / To Coda / Coda, played
//! the customary way (no repeats after the jump, last volta only). Nested repeats are read
//! as consecutive sections. Each part computes its own order from its own barlines, which
//! exporters write identically into every part.

use crate::xmlutil::{children, elements, name};
use crate::Warnings;
use roxmltree::Node;

#[derive(Default)]
struct Marks {
    forward: bool,
    /// `times` of a backward repeat (how often the section is played in total).
    backward: Option<u32>,
    ending_start: Option<Vec<u32>>,
    ending_stop: bool,
    segno: bool,
    coda: bool,
    tocoda: bool,
    dacapo: bool,
    dalsegno: bool,
    fine: bool,
}

fn read_marks(m: Node) -> Marks {
    let mut k = Marks::default();
    for b in children(m, "barline") {
        for r in children(b, "repeat") {
            match r.attribute("direction") {
                Some("forward") => k.forward = true,
                Some("backward") => {
                    let times = r.attribute("times").and_then(|t| t.trim().parse::<u32>().ok()).unwrap_or(2);
                    k.backward = Some(times.clamp(1, 16));
                }
                _ => {}
            }
        }
        for e in children(b, "ending") {
            match e.attribute("type") {
                Some("start") => {
                    let nums: Vec<u32> = e
                        .attribute("number")
                        .unwrap_or("")
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter_map(|t| t.trim().trim_end_matches('.').parse().ok())
                        .collect();
                    k.ending_start = Some(if nums.is_empty() { vec![1] } else { nums });
                }
                Some("stop") | Some("discontinue") => k.ending_stop = true,
                _ => {}
            }
        }
    }
    let sounds =
        elements(m).filter(|c| name(*c) == "sound").chain(children(m, "direction").flat_map(|d| children(d, "sound")));
    for s in sounds {
        let yes = |a: &str| s.attribute(a).is_some_and(|v| v != "no");
        k.segno |= s.attribute("segno").is_some();
        k.coda |= s.attribute("coda").is_some();
        k.tocoda |= s.attribute("tocoda").is_some();
        k.dacapo |= yes("dacapo");
        k.dalsegno |= s.attribute("dalsegno").is_some();
        k.fine |= s.attribute("fine").is_some();
    }
    k
}

pub(crate) fn playback_order(measures: &[Node], warnings: &mut Warnings) -> Vec<usize> {
    let marks: Vec<Marks> = measures.iter().map(|m| read_marks(*m)).collect();
    let n = marks.len();
    let cap = n.saturating_mul(32).saturating_add(64);
    let ending_end = |i: usize| (i..n).find(|&j| marks[j].ending_stop).unwrap_or(i);

    let mut order = Vec::with_capacity(n);
    let mut i = 0;
    let mut section_start = 0;
    let mut pass = 1u32;
    let mut jumped = false;
    while i < n {
        if order.len() >= cap {
            warnings.push("repeat structure loops; expansion stopped");
            break;
        }
        let m = &marks[i];
        if m.forward && !jumped && section_start != i {
            section_start = i;
            pass = 1;
        }
        if let Some(numbers) = &m.ending_start {
            let end = ending_end(i);
            let last_ending = marks.get(end + 1).is_none_or(|next| next.ending_start.is_none());
            let play = if jumped { last_ending } else { numbers.contains(&pass) };
            if !play {
                i = end + 1;
                continue;
            }
        }
        order.push(i);
        if jumped && m.fine {
            break;
        }
        if jumped && m.tocoda {
            if let Some(c) = (i + 1..n).find(|&j| marks[j].coda) {
                i = c;
                continue;
            }
        }
        if let Some(times) = m.backward {
            if !jumped {
                if pass < times {
                    pass += 1;
                    i = section_start;
                    continue;
                }
                pass = 1;
                section_start = i + 1;
            }
        } else if m.ending_stop {
            // The last volta ends the repeated section.
            pass = 1;
            section_start = i + 1;
        }
        if (m.dacapo || m.dalsegno) && !jumped {
            jumped = true;
            i = if m.dacapo { 0 } else { (0..n).find(|&j| marks[j].segno).unwrap_or(0) };
            continue;
        }
        i += 1;
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(xml: &str) -> Vec<usize> {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let measures: Vec<Node> = children(doc.root_element(), "measure").collect();
        playback_order(&measures, &mut Warnings::default())
    }

    const FWD: &str = r#"<barline location="left"><repeat direction="forward"/></barline>"#;
    const BACK: &str = r#"<barline location="right"><repeat direction="backward"/></barline>"#;

    #[test]
    fn simple_repeat() {
        let xml = format!("<p><measure/><measure>{FWD}</measure><measure>{BACK}</measure><measure/></p>");
        assert_eq!(order(&xml), vec![0, 1, 2, 1, 2, 3]);
    }

    #[test]
    fn repeat_from_start_with_times() {
        let xml = r#"<p><measure/><measure><barline><repeat direction="backward" times="3"/></barline></measure></p>"#;
        assert_eq!(order(xml), vec![0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn voltas() {
        let e1 = r#"<barline location="left"><ending number="1" type="start"/></barline>
                    <barline location="right"><ending number="1" type="stop"/><repeat direction="backward"/></barline>"#;
        let e2 = r#"<barline location="left"><ending number="2" type="start"/></barline>
                    <barline location="right"><ending number="2" type="discontinue"/></barline>"#;
        let xml = format!("<p><measure>{FWD}</measure><measure>{e1}</measure><measure>{e2}</measure><measure/><measure>{BACK}</measure></p>");
        // After the volta the section restarts: the last backward repeat goes back to 3.
        assert_eq!(order(&xml), vec![0, 1, 0, 2, 3, 4, 3, 4]);
    }

    #[test]
    fn da_capo_al_fine() {
        let xml = r#"<p><measure/><measure><direction><sound fine="yes"/></direction></measure>
                    <measure><direction><sound dacapo="yes"/></direction></measure></p>"#;
        assert_eq!(order(xml), vec![0, 1, 2, 0, 1]);
    }

    #[test]
    fn dal_segno_al_coda() {
        let xml = r#"<p><measure/><measure><direction><sound segno="s"/></direction></measure>
                    <measure><direction><sound tocoda="c"/></direction></measure>
                    <measure><direction><sound dalsegno="s"/></direction></measure>
                    <measure><direction><sound coda="c"/></direction></measure></p>"#;
        assert_eq!(order(xml), vec![0, 1, 2, 3, 1, 2, 4]);
    }
}
