//! How a subscription's channels keep their connection.

use std::time::Duration;

use crate::validation::{ValidationError, Violations};

/// How a subscription receives its notifications: its queue, and how its channels keep
/// their websocket. Build with [`SubscribeOptions::builder`]; the defaults suit the
/// platform.
///
/// Subscriptions of one client with the same connection settings share channels; ones
/// with other settings get channels of their own (each channel counts against the
/// platform's 20 per OAuth client).
///
/// ```
/// use std::time::Duration;
/// use genesys_cloud::notifications::SubscribeOptions;
///
/// let options = SubscribeOptions::builder()
///     .buffer(1_024)
///     .max_reconnect_wait(Duration::from_secs(60))
///     .build()?;
/// assert_eq!(options.buffer(), 1_024);
/// assert!(SubscribeOptions::builder().buffer(0).build().is_err());
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    pub(crate) buffer: usize,
    pub(crate) connection: ConnectionOptions,
}

/// The part of [`SubscribeOptions`] that belongs to a channel's connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ConnectionOptions {
    pub(crate) ping_every: Duration,
    pub(crate) dead_after: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect_wait: Duration,
    pub(crate) max_reconnect_wait: Duration,
    pub(crate) healthy_after: Duration,
    pub(crate) renew_before_expiry: Duration,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            ping_every: Duration::from_secs(30),
            dead_after: Duration::from_secs(95),
            connect_timeout: Duration::from_secs(10),
            reconnect_wait: Duration::from_millis(500),
            max_reconnect_wait: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            renew_before_expiry: Duration::from_secs(3_600),
        }
    }
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            buffer: 256,
            connection: ConnectionOptions::default(),
        }
    }
}

macro_rules! connection_settings {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        impl SubscribeOptions {
            $($(#[$doc])* pub fn $name(&self) -> Duration { self.connection.$name })*
        }
        impl SubscribeOptionsBuilder {
            $($(#[$doc])* pub fn $name(mut self, value: Duration) -> Self {
                self.options.connection.$name = value;
                self
            })*
        }
    };
}

connection_settings! {
    /// How often `{"message":"ping"}` is sent; the platform answers on
    /// `channel.metadata`. Default 30 s (at most 10 min).
    ping_every;
    /// Nothing heard (events, heartbeats about every 30 s, pongs) for this long: the
    /// socket is dead and is replaced. Longer than `ping_every`; default 95 s.
    dead_after;
    /// Connecting, TLS and the websocket upgrade together. Default 10 s (at most 5 min).
    connect_timeout;
    /// The first wait before reconnecting; each later one doubles (with jitter, never
    /// shorter) up to `max_reconnect_wait`. Default 500 ms.
    reconnect_wait;
    /// The longest wait before reconnecting. Default 30 s (at most 1 h).
    max_reconnect_wait;
    /// A connection that stayed up this long starts the waits over; shorter ones keep
    /// them growing (a socket that closes at once must not cause a storm). Default 60 s.
    healthy_after;
    /// How long before the channel's `expires` it is renewed (subscribed again, or
    /// replaced by a new channel if that does not move `expires`). Default 1 h (less
    /// than 23 h).
    renew_before_expiry;
}

impl SubscribeOptions {
    /// A builder starting from the defaults.
    pub fn builder() -> SubscribeOptionsBuilder {
        SubscribeOptionsBuilder {
            options: SubscribeOptions::default(),
        }
    }

    /// Notifications waiting for the consumer before further ones are dropped (and
    /// counted in a [`Lagged`](super::Lagged) notice). 1 to 65,536; default 256.
    pub fn buffer(&self) -> usize {
        self.buffer
    }

    /// Every value out of range, collected into `v`.
    pub(crate) fn check_into(&self, v: &mut Violations) {
        self.connection.check_into(v);
        v.check(
            (1..=65_536).contains(&self.buffer),
            "buffer",
            "range",
            format!("{} is outside 1..=65536", self.buffer),
        );
    }
}

impl ConnectionOptions {
    /// Every connection setting out of range, collected into `v`.
    pub(crate) fn check_into(&self, v: &mut Violations) {
        let secs = Duration::from_secs;
        let ms = Duration::from_millis(1);
        v.check_within("ping_every", self.ping_every, ms, secs(600));
        v.check_within("dead_after", self.dead_after, ms, secs(3_600));
        v.check_within("connect_timeout", self.connect_timeout, ms, secs(300));
        v.check_within("reconnect_wait", self.reconnect_wait, ms, secs(3_600));
        v.check_within(
            "max_reconnect_wait",
            self.max_reconnect_wait,
            ms,
            secs(3_600),
        );
        v.check_within("healthy_after", self.healthy_after, ms, secs(86_400));
        v.check_within(
            "renew_before_expiry",
            self.renew_before_expiry,
            ms,
            secs(23 * 3_600),
        );
        v.check(
            self.dead_after > self.ping_every,
            "dead_after",
            "after_ping",
            "a socket can only be declared dead after a ping had time to be answered: make dead_after longer than ping_every",
        );
        v.check(
            self.max_reconnect_wait >= self.reconnect_wait,
            "max_reconnect_wait",
            "at_least_first",
            "the longest wait cannot be shorter than the first",
        );
    }
}

/// Collects [`SubscribeOptions`]; [`SubscribeOptionsBuilder::build`] checks every value.
#[derive(Debug, Clone)]
#[must_use]
pub struct SubscribeOptionsBuilder {
    options: SubscribeOptions,
}

impl SubscribeOptionsBuilder {
    /// Notifications waiting for the consumer before further ones are dropped. 1 to
    /// 65,536; default 256.
    pub fn buffer(mut self, buffer: usize) -> Self {
        self.options.buffer = buffer;
        self
    }

    /// The options, or every value out of range (none is silently clamped).
    pub fn build(self) -> Result<SubscribeOptions, ValidationError> {
        let mut v = Violations::default();
        self.options.check_into(&mut v);
        v.finish()?;
        Ok(self.options)
    }
}
