//! What the simulator reads from a request's SigV4 `Authorization` header:
//! the access key id and the region of the credential scope. The signature
//! itself is never checked; a header that is absent or not SigV4 leaves the
//! request unsigned, as far as the simulator cares.

/// Who signed a request, and for which region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signer {
    pub access_key: String,
    pub region: String,
}

impl Signer {
    /// Reads `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, …`.
    pub(crate) fn parse(header: &str) -> Option<Signer> {
        let rest = header.trim_start().strip_prefix("AWS4-HMAC-SHA256")?;
        let credential = rest
            .split(',')
            .map(str::trim)
            .find_map(|part| part.strip_prefix("Credential="))?;
        let mut scope = credential.split('/');
        let access_key = scope.next().filter(|k| !k.is_empty())?;
        let _date = scope.next()?;
        let region = scope.next().filter(|r| !r.is_empty())?;
        let _service = scope.next()?;
        if scope.next() != Some("aws4_request") || scope.next().is_some() {
            return None;
        }
        Some(Signer {
            access_key: access_key.to_owned(),
            region: region.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_key_and_region_from_the_credential_scope() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/cognito-idp/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=deadbeef";
        let signer = Signer::parse(header).unwrap();
        assert_eq!(signer.access_key, "AKIDEXAMPLE");
        assert_eq!(signer.region, "eu-west-1");
        let tight = "AWS4-HMAC-SHA256 SignedHeaders=host,Credential=K/d/us-east-1/sts/aws4_request";
        assert_eq!(Signer::parse(tight).unwrap().access_key, "K");
    }

    #[test]
    fn anything_else_is_unsigned() {
        for header in [
            "",
            "Basic dXNlcjpwYXNz",
            "AWS4-HMAC-SHA256 Signature=x",
            "AWS4-HMAC-SHA256 Credential=/20240101/us-east-1/sts/aws4_request",
            "AWS4-HMAC-SHA256 Credential=K/20240101//sts/aws4_request",
            "AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/sts",
            "AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/sts/aws4_request/x",
        ] {
            assert_eq!(Signer::parse(header), None, "{header}");
        }
    }
}
