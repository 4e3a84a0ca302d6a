//! The operations the simulator answers and the quota categories they count
//! against: one table, so dispatch, quotas, `--sim-deny` and
//! GetProvisionedLimit cannot disagree about which operation is which.

/// A Cognito operation the simulator implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    AdminResetUserPassword,
    AdminGetUser,
    AdminUserGlobalSignOut,
    AdminDisableUser,
    ListUsers,
    ListUsersInGroup,
    DescribeUserPool,
    GetProvisionedLimit,
    ListUserPoolClients,
    DescribeUserPoolClient,
}

impl Op {
    /// Every implemented operation, in the order `calls` lists them.
    pub(crate) const ALL: [Op; 10] = [
        Op::AdminResetUserPassword,
        Op::AdminGetUser,
        Op::AdminUserGlobalSignOut,
        Op::AdminDisableUser,
        Op::ListUsers,
        Op::ListUsersInGroup,
        Op::DescribeUserPool,
        Op::GetProvisionedLimit,
        Op::ListUserPoolClients,
        Op::DescribeUserPoolClient,
    ];

    /// The operation's name as it appears in `X-Amz-Target`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::AdminResetUserPassword => "AdminResetUserPassword",
            Op::AdminGetUser => "AdminGetUser",
            Op::AdminUserGlobalSignOut => "AdminUserGlobalSignOut",
            Op::AdminDisableUser => "AdminDisableUser",
            Op::ListUsers => "ListUsers",
            Op::ListUsersInGroup => "ListUsersInGroup",
            Op::DescribeUserPool => "DescribeUserPool",
            Op::GetProvisionedLimit => "GetProvisionedLimit",
            Op::ListUserPoolClients => "ListUserPoolClients",
            Op::DescribeUserPoolClient => "DescribeUserPoolClient",
        }
    }

    /// The operation named `name`, if the simulator implements it.
    pub(crate) fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The request-rate category the operation counts against.
    pub(crate) fn category(self) -> Category {
        match self {
            Op::AdminResetUserPassword => Category::UserAccountRecovery,
            Op::AdminGetUser => Category::UserRead,
            Op::AdminUserGlobalSignOut | Op::AdminDisableUser => Category::UserUpdate,
            Op::ListUsers | Op::ListUsersInGroup => Category::UserList,
            Op::DescribeUserPool | Op::GetProvisionedLimit => Category::UserPoolRead,
            Op::ListUserPoolClients | Op::DescribeUserPoolClient => Category::UserPoolClientRead,
        }
    }

    /// The index of this operation in [`Op::ALL`].
    pub(crate) fn index(self) -> usize {
        Op::ALL.iter().position(|op| *op == self).unwrap_or(0)
    }
}

/// The name `--sim-deny` and `calls` use for STS GetCallerIdentity.
pub(crate) const GET_CALLER_IDENTITY: &str = "GetCallerIdentity";

/// Whether `name` is an operation `--sim-deny` can refuse.
pub(crate) fn deniable(name: &str) -> bool {
    name == GET_CALLER_IDENTITY || Op::from_name(name).is_some()
}

/// A request-rate quota category the simulator enforces (named as AWS
/// names them, hence the shared prefix).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Category {
    UserAccountRecovery,
    UserRead,
    UserUpdate,
    UserList,
    UserPoolRead,
    UserPoolClientRead,
}

impl Category {
    /// Every enforced category.
    pub(crate) const ALL: [Category; 6] = [
        Category::UserAccountRecovery,
        Category::UserRead,
        Category::UserUpdate,
        Category::UserList,
        Category::UserPoolRead,
        Category::UserPoolClientRead,
    ];

    /// The category's name, as GetProvisionedLimit and `throttled_by_category` spell it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Category::UserAccountRecovery => "UserAccountRecovery",
            Category::UserRead => "UserRead",
            Category::UserUpdate => "UserUpdate",
            Category::UserList => "UserList",
            Category::UserPoolRead => "UserPoolRead",
            Category::UserPoolClientRead => "UserPoolClientRead",
        }
    }

    /// The index of this category in [`Category::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Cognito's default request-rate quotas (requests per second) for the API
/// categories GetProvisionedLimit knows. The simulator enforces only the
/// six of [`Category`]; the others are answered with their default so that
/// a client asking about them sees what an untouched account would.
pub(crate) const DEFAULT_LIMITS: [(&str, u32); 14] = [
    ("UserAuthentication", 120),
    ("UserCreation", 50),
    ("UserFederation", 25),
    ("UserAccountRecovery", 30),
    ("UserRead", 120),
    ("UserUpdate", 25),
    ("UserResourceRead", 120),
    ("UserResourceUpdate", 25),
    ("UserList", 30),
    ("UserPoolRead", 15),
    ("UserPoolUpdate", 15),
    ("UserPoolResourceRead", 20),
    ("UserPoolResourceUpdate", 15),
    ("UserPoolClientRead", 15),
];

/// The default quota of a GetProvisionedLimit category, if it is one.
pub(crate) fn default_limit(category: &str) -> Option<u32> {
    DEFAULT_LIMITS
        .iter()
        .find(|(name, _)| *name == category)
        .map(|(_, limit)| *limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_round_trips_through_its_name() {
        for op in Op::ALL {
            assert_eq!(Op::from_name(op.name()), Some(op));
            assert_eq!(Op::ALL[op.index()], op);
        }
        assert_eq!(Op::from_name("CreateUserPool"), None);
    }

    #[test]
    fn enforced_categories_have_aws_defaults() {
        for category in Category::ALL {
            assert!(default_limit(category.name()).is_some(), "{category:?}");
            assert_eq!(Category::ALL[category.index()], category);
        }
    }
}
