//! What a collaboration room relays of an editor's presence (y-sync awareness states): the state
//! the browser announced, with `user.name` set to the account's name and the cursor colours kept
//! only when they are plain hex colours. Browsers draw both into every other member's editor (the
//! name as a cursor label, the colours as `style` attributes), so a member can neither pose as
//! someone else nor inject CSS through them.

use serde_json::{Map, Value};

/// Colour drawn for a state that announced none, or one that is not a hex colour.
const NEUTRAL: &str = "#555555";

/// The awareness state `json` as the other members get it: `None` to drop it (not JSON). A
/// removal (`null`) and states that are not objects pass unchanged: they draw nothing.
pub fn stamp_presence(json: &str, account_name: &str) -> Option<String> {
    let mut state: Value = serde_json::from_str(json).ok()?;
    let Some(fields) = state.as_object_mut() else { return Some(json.to_owned()) };
    let user = fields.entry("user").or_insert_with(|| Value::Object(Map::new()));
    if !user.is_object() {
        *user = Value::Object(Map::new());
    }
    let user = user.as_object_mut().expect("made an object above");
    user.insert("name".into(), Value::from(account_name));
    let colour = user.get("color").and_then(Value::as_str).filter(|c| is_hex_colour(c, 6)).unwrap_or(NEUTRAL).to_owned();
    let light = user.get("colorLight").and_then(Value::as_str).filter(|c| is_hex_colour(c, 8)).map_or_else(|| format!("{colour}33"), str::to_owned);
    user.insert("color".into(), Value::from(colour));
    user.insert("colorLight".into(), Value::from(light));
    Some(state.to_string())
}

/// `#` and `digits` hexadecimal digits.
fn is_hex_colour(text: &str, digits: usize) -> bool {
    text.len() == digits + 1 && text.starts_with('#') && text[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: &str) -> Value {
        serde_json::from_str::<Value>(json).expect("json")["user"].clone()
    }

    #[test]
    fn the_name_is_the_accounts_and_hex_colours_are_kept() {
        let stamped =
            stamp_presence(r##"{"user":{"name":"Mallory","color":"#1f77b4","colorLight":"#1f77b433"},"cursor":{"anchor":3}}"##, "Ada").expect("kept");
        assert_eq!(user(&stamped), serde_json::json!({"name": "Ada", "color": "#1f77b4", "colorLight": "#1f77b433"}));
        assert!(stamped.contains("\"cursor\""), "the cursor travels unchanged: {stamped}");
    }

    #[test]
    fn css_in_a_colour_is_replaced_and_a_missing_user_gets_the_account() {
        let stamped = stamp_presence(r#"{"user":{"color":"red;position:fixed;inset:0","colorLight":"url(/x)"}}"#, "Ada").expect("kept");
        assert_eq!(user(&stamped), serde_json::json!({"name": "Ada", "color": "#555555", "colorLight": "#55555533"}));
        let bare = stamp_presence(r#"{"user":"x","cursor":1}"#, "Bo").expect("kept");
        assert_eq!(user(&bare)["name"], "Bo");
    }

    #[test]
    fn removals_pass_and_what_is_not_json_is_dropped() {
        assert_eq!(stamp_presence("null", "Ada").as_deref(), Some("null"));
        assert_eq!(stamp_presence("[1,2]", "Ada").as_deref(), Some("[1,2]"));
        assert_eq!(stamp_presence("{not json", "Ada"), None);
    }
}
