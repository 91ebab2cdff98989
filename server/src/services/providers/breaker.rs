//! A circuit breaker per provider: after `failures` consecutive failures the provider is skipped
//! for `cooldown`; then one trial request is let through — its success closes the circuit, its
//! failure opens it again. Per server instance (each learns from its own requests).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One provider's circuit.
#[derive(Debug)]
pub struct Breaker {
    failures: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

/// What the circuit says about the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Closed: go ahead.
    Closed,
    /// Half-open: this request is the one trial.
    Trial,
    /// Open: skip the provider.
    Open,
}

impl Breaker {
    /// A closed circuit that opens after `failures` consecutive failures, for `cooldown`.
    pub fn new(failures: u32, cooldown: Duration) -> Self {
        Self { failures: failures.max(1), cooldown, state: Mutex::default() }
    }

    /// Whether a request may go to the provider now.
    pub fn permit(&self) -> Permit {
        let mut state = self.state.lock().expect("breaker lock");
        match state.open_until {
            None => Permit::Closed,
            Some(until) if Instant::now() < until => Permit::Open,
            Some(_) if state.trial_in_flight => Permit::Open,
            Some(_) => {
                state.trial_in_flight = true;
                Permit::Trial
            }
        }
    }

    /// The provider answered: the circuit closes.
    pub fn succeeded(&self) {
        *self.state.lock().expect("breaker lock") = State::default();
    }

    /// The provider failed (timeout, 5xx, connection): counted; a failed trial re-opens at once.
    pub fn failed(&self) {
        let mut state = self.state.lock().expect("breaker lock");
        state.consecutive = state.consecutive.saturating_add(1);
        if state.trial_in_flight || state.consecutive >= self.failures {
            state.open_until = Some(Instant::now() + self.cooldown);
            state.trial_in_flight = false;
        }
    }

    /// The request ended without telling anything about the provider (cancelled by the client):
    /// a trial it held is released.
    pub fn abandoned(&self) {
        self.state.lock().expect("breaker lock").trial_in_flight = false;
    }

    /// Whether the circuit is open now (for health reports).
    pub fn is_open(&self) -> bool {
        self.state.lock().expect("breaker lock").open_until.is_some_and(|until| Instant::now() < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_lets_one_trial_through_after_the_cooldown() {
        let breaker = Breaker::new(2, Duration::from_millis(30));
        assert_eq!(breaker.permit(), Permit::Closed);
        breaker.failed();
        assert_eq!(breaker.permit(), Permit::Closed, "one failure of two");
        breaker.failed();
        assert_eq!(breaker.permit(), Permit::Open);
        assert!(breaker.is_open());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.permit(), Permit::Trial);
        assert_eq!(breaker.permit(), Permit::Open, "only one trial at a time");
        breaker.failed();
        assert_eq!(breaker.permit(), Permit::Open, "a failed trial re-opens the circuit");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.permit(), Permit::Trial);
        breaker.succeeded();
        assert_eq!(breaker.permit(), Permit::Closed);
        breaker.failed();
        assert_eq!(breaker.permit(), Permit::Closed, "a success reset the count");
    }

    #[test]
    fn a_success_between_failures_keeps_the_circuit_closed() {
        let breaker = Breaker::new(2, Duration::from_secs(60));
        breaker.failed();
        breaker.succeeded();
        breaker.failed();
        assert_eq!(breaker.permit(), Permit::Closed);
    }
}
