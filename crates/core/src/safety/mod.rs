//! Safety: what a message sounds like (a crisis, a request for advice, or neither), and the
//! crisis answer, which comes before every other flow.

mod answer;
mod detector;

pub use self::detector::{Concern, assess};
