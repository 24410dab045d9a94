//! The listening page: one self-contained HTML file (its script and style inline, no network),
//! with the test's data (opaque ids only) in it. The audio sits beside it in `audio/`.

/// `page.html` with `data` put in place of its placeholder. `<` is escaped inside the JSON so
/// that no string can close the script element.
pub fn page_html(data: &serde_json::Value) -> String {
    let json = serde_json::to_string(data).expect("JSON").replace('<', "\\u003c");
    TEMPLATE.replace("/*CADENZA_DATA*/null", &json)
}

const TEMPLATE: &str = include_str!("page.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_goes_in_and_cannot_close_the_script() {
        let html = page_html(&serde_json::json!({"run_hash": "ab", "trials": [], "note": "</script><b>"}));
        assert!(html.contains("\"run_hash\":\"ab\""));
        assert!(!html.contains("</script><b>") && html.contains("\\u003c/script>"));
        assert!(!html.contains("/*CADENZA_DATA*/"));
        assert!(!html.contains("http://") && !html.contains("https://"), "no network");
    }
}
