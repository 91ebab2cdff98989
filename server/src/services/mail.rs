//! Outgoing mail: verification and password-reset messages over SMTP (STARTTLS or TLS when
//! configured), or into the log when no SMTP server is configured.

use std::sync::Arc;

use anyhow::Context;
use code4me_shared::settings::{EmailSettings, SmtpTls};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

/// A message to one recipient.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Something that delivers mail.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    /// Delivers `mail` or fails.
    async fn send(&self, mail: Mail) -> anyhow::Result<()>;
}

/// Delivers over SMTP.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
}

/// Writes mails to the log (no `EMAIL_HOST`): a local install still shows its verification links.
pub struct LogMailer;

#[async_trait::async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        tracing::info!(mail.to = %mail.to, mail.subject = %mail.subject, mail.body = %mail.body, "EMAIL_HOST not set; mail logged instead of sent");
        Ok(())
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.parse().context("EMAIL_FROM is not a valid mailbox")?)
            .to(mail.to.parse().context("recipient address")?)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .context("building the message")?;
        self.transport.send(message).await.context("SMTP delivery")?;
        Ok(())
    }
}

/// The mailer the settings ask for.
pub fn from_settings(settings: &EmailSettings) -> anyhow::Result<Arc<dyn Mailer>> {
    let Some(host) = settings.host.as_deref() else {
        return Ok(Arc::new(LogMailer));
    };
    let builder = match settings.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).context("EMAIL_HOST")?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).context("EMAIL_HOST")?,
    };
    let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
    }
    Ok(Arc::new(SmtpMailer { transport: builder.build(), from: settings.from.clone() }))
}

/// The verification mail for `name` with its link.
pub fn verification(to: &str, name: &str, link: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Verify your Code4me account".into(),
        body: format!(
            "Hello {name},\n\nplease confirm your e-mail address by opening this link:\n\n{link}\n\nIf you did not sign up for Code4me, ignore this message.\n"
        ),
    }
}

/// The password-reset mail for `name` with its link.
pub fn password_reset(to: &str, name: &str, link: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Reset your Code4me password".into(),
        body: format!(
            "Hello {name},\n\nto choose a new password, open this link (valid for a short time):\n\n{link}\n\nIf you did not ask for this, ignore this message; your password stays as it is.\n"
        ),
    }
}
