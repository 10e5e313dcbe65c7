//! Who may do what. Every permission check in Roomkeeper is answered here, and the
//! web layer's extractors are the only callers, so a handler cannot forget one.

/// The person (or script) behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    User { user_id: i64, is_admin: bool },
}

/// Something an actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See their own account, change its password, language and API tokens.
    ManageOwnAccount,
    /// List, create, promote, disable and re-enable accounts.
    ManageUsers,
}

/// The answer to "may this actor do this?", with the reason when not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Nobody is logged in: the answer is "log in", not "no".
    NeedsLogin,
    Forbidden,
}

pub fn decide(actor: Actor, action: Action) -> Decision {
    match (actor, action) {
        (Actor::Anonymous, _) => Decision::NeedsLogin,
        (Actor::User { .. }, Action::ManageOwnAccount) => Decision::Allowed,
        (Actor::User { is_admin, .. }, Action::ManageUsers) => {
            if is_admin {
                Decision::Allowed
            } else {
                Decision::Forbidden
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANONYMOUS: Actor = Actor::Anonymous;
    const USER: Actor = Actor::User {
        user_id: 2,
        is_admin: false,
    };
    const ADMIN: Actor = Actor::User {
        user_id: 1,
        is_admin: true,
    };

    #[test]
    fn every_role_against_every_action() {
        use Decision::*;
        let table = [
            (ANONYMOUS, Action::ManageOwnAccount, NeedsLogin),
            (ANONYMOUS, Action::ManageUsers, NeedsLogin),
            (USER, Action::ManageOwnAccount, Allowed),
            (USER, Action::ManageUsers, Forbidden),
            (ADMIN, Action::ManageOwnAccount, Allowed),
            (ADMIN, Action::ManageUsers, Allowed),
        ];
        for (actor, action, expected) in table {
            assert_eq!(decide(actor, action), expected, "{actor:?} {action:?}");
        }
    }
}
