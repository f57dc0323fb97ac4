"""SAM and CloudFormation templates, run locally: `sluiceway run template.yaml`.

A template is read (YAML with CloudFormation's short tags, or JSON), transformed by AWS's own
SAM translator when it declares ``Transform: AWS::Serverless-2016-10-31``, its intrinsic
functions and pseudo parameters resolved to local values, and each resource declared onto an
`App`, the same graph the Python API builds. This package sits above the services (it builds
an `App`), beside the local and AWS targets.
"""
