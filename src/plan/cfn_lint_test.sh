#!/bin/sh
# Emits a CloudFormation template for each profile in testdata/cfn-*.toml (and for every design
# of the default profile) with the built muonpipe binary, then runs cfn-lint on each. Fails on any
# cfn-lint error or warning. Skips, saying so, where cfn-lint is not installed.
set -u
muonpipe="$1"
testdata="$2"
if command -v cfn-lint >/dev/null 2>&1; then
  lint="cfn-lint"
elif python3 -c 'import cfnlint' >/dev/null 2>&1; then
  lint="python3 -m cfnlint.runner"
else
  echo "SKIPPED: cfn-lint not installed (pip install cfn-lint to run this test)"
  exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0
check() {
  name="$1"; shift
  if ! "$muonpipe" plan "$@" --emit cloudformation --output "$out/$name.json" 2>"$out/$name.err"; then
    echo "FAIL $name: muonpipe plan failed:"; cat "$out/$name.err"; failed=1; return
  fi
  # cfn-lint exits 0 only when there are no errors, warnings or informational findings.
  if $lint --format parseable "$out/$name.json" >"$out/$name.lint" 2>&1; then
    echo "ok   $name"
  else
    echo "FAIL $name:"; cat "$out/$name.lint"; failed=1
  fi
}
for design in kds-provisioned kds-provisioned-agg kds-on-demand kds-on-demand-agg \
              firehose-direct firehose-direct-agg batch-only self-hosted-ec2; do
  check "design-$design" --design "$design"
done
for profile in "$testdata"/cfn-*.toml; do
  check "profile-$(basename "$profile" .toml)" --profile "$profile"
done
exit $failed
