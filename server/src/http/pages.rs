//! The small HTML pages users reach from links in mails.

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1d2330}}\
label{{display:block;margin-top:1rem}}input{{width:100%;padding:.5rem;font-size:1rem}}button{{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}}\
.error{{color:#b42318}}</style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title)
    )
}

/// Shown after following a valid verification link.
pub fn verification_succeeded() -> String {
    page("Email Verification Successful!", "<p>Your e-mail address is verified. You can close this page and return to your IDE.</p>")
}

/// The form that sets a new password (posts to `/api/user/reset-password/change`).
pub fn reset_form(token: &str, error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    page(
        "Reset your password",
        &format!(
            "{error}<form method=\"post\" action=\"/api/user/reset-password/change\">\
<input type=\"hidden\" name=\"token\" value=\"{token}\">\
<label>New password<input type=\"password\" name=\"new_password\" required minlength=\"8\" maxlength=\"50\" autocomplete=\"new-password\"></label>\
<label>Confirm password<input type=\"password\" name=\"confirm_password\" required minlength=\"8\" maxlength=\"50\" autocomplete=\"new-password\"></label>\
<p>At least 8 characters with an upper-case letter, a lower-case letter and a digit, no spaces.</p>\
<button type=\"submit\">Set new password</button></form>",
            token = escape(token)
        ),
    )
}

/// Shown when a reset link is invalid or expired.
pub fn reset_link_invalid() -> String {
    page(
        "Reset your password",
        "<p class=\"error\" role=\"alert\">This password reset link is invalid or has expired. Request a new one from your IDE.</p>",
    )
}

/// Shown after the password was changed.
pub fn reset_succeeded() -> String {
    page("Password Reset Successful!", "<p>Your password has been changed. Sign in again from your IDE with the new password.</p>")
}

/// Shown when something failed on our side.
pub fn server_error(what: &str) -> String {
    page("Something went wrong", &format!("<p class=\"error\">{}</p>", escape(what)))
}
