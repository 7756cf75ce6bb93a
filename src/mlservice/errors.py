"""One error tree for the whole project; each error carries the HTTP status it maps to.

    MLServiceError                      500
     +-- InvalidInput                   400  (bad predict payload, bad CLI argument)
     |    +-- InvalidObject             422  (a manifest failed validation; carries field causes)
     |    +-- TemplateError             400  (a runtime's Go template is malformed)
     |    +-- RuntimeSelectionError     400  (no runtime, or several equally good, for a model)
     |    |    +-- KServeSelectionError 400  (as KServe reports it: message, reason, failure)
     |    |         +-- NoSupportingRuntime  400  (no runtime serves format/version/protocol)
     |    |         +-- RuntimeNotRecognized 400  (the named runtime does not exist)
     |    |         +-- RuntimeDisabled      400  (the named runtime is disabled)
     |    +-- UnsafePath                400  (a path that would leave its folder)
     |    +-- BadValue                  400  (an annotation's value out of its range)
     |    +-- NotRenderable             400  (a manifest the chosen Kubernetes mode cannot run)
     +-- Unauthorized                   401
     +-- NotFound                       404
     |    +-- ModelNotFound             404
     +-- MethodNotAllowed               405  (a verb a resource does not serve: Pods are read-only)
     +-- Conflict                       409  (stale resourceVersion)
     |    +-- AlreadyExists             409  (create of a name that exists)
     +-- PayloadTooLarge                413
     +-- InferenceError                 500  (the model raised)
     +-- NotImplementedByModel          501  (e.g. :explain on a model without it)
     +-- Unavailable                    503  (model not ready, queue full, paused)
     +-- StorageError                   500  (model download or extraction failed)
     |    +-- UnsafeArchiveError        500  (an entry escapes its folder)
     |    +-- StorageNotFound           500  (bucket, object, file or volume missing)
     |    +-- StorageAccessDenied       500  (the storage refused the credentials)
     |    +-- StorageUnreachable        500  (endpoint down or timing out; worth a retry)
     |    +-- InvalidStorageSource      400  (unsupported scheme, path escaping, bad .s3cfg)
     +-- ModelFormatError               500  (format unknown, ambiguous or unloadable)
     +-- RuntimeUnavailable             500  (a program the pod needs is not installed here)
     +-- LaunchError                    500  (a container cannot run on this machine)
     +-- Gone                           410  (watch resumed from a compacted resourceVersion)
     +-- ResourceVersionTooLarge        504  (watch from a resourceVersion not issued yet)

Protocol edges (REST, gRPC, the API server, the CLI) translate these once; domain code never
imports a web framework to signal an error.
"""

from __future__ import annotations

from dataclasses import dataclass


class MLServiceError(Exception):
    """Base of every error mlservice raises on purpose."""

    status_code: int = 500
    reason: str = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def spec_reason(self) -> str:
        """The reason as a condition on the manifest at fault says it (the controllers' and
        the operator's): the generic ones say nothing about the manifest, so they read
        `InvalidSpec`."""
        return self.reason if self.reason not in ("BadRequest", "InternalError") else "InvalidSpec"


class InvalidInput(MLServiceError):
    status_code = 400
    reason = "BadRequest"


@dataclass(frozen=True)
class FieldCause:
    """One reason an object is invalid, with the dotted path of the field at fault."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"


class InvalidObject(InvalidInput):
    status_code = 422
    reason = "Invalid"

    def __init__(self, message: str, causes: list[FieldCause] | None = None) -> None:
        super().__init__(message)
        self.causes: list[FieldCause] = list(causes or [])


class Unauthorized(MLServiceError):
    status_code = 401
    reason = "Unauthorized"


class NotFound(MLServiceError):
    status_code = 404
    reason = "NotFound"


class MethodNotAllowed(MLServiceError):
    status_code = 405
    reason = "MethodNotAllowed"


class ModelNotFound(NotFound):
    pass


class Conflict(MLServiceError):
    status_code = 409
    reason = "Conflict"


class PayloadTooLarge(MLServiceError):
    status_code = 413
    reason = "RequestEntityTooLarge"


class InferenceError(MLServiceError):
    status_code = 500
    reason = "InferenceError"


class NotImplementedByModel(MLServiceError):
    status_code = 501
    reason = "NotImplemented"


class Unavailable(MLServiceError):
    status_code = 503
    reason = "ServiceUnavailable"


class StorageError(MLServiceError):
    reason = "StorageError"


class UnsafeArchiveError(StorageError):
    reason = "UnsafeArchive"


class ModelFormatError(MLServiceError):
    reason = "ModelFormatError"


class AlreadyExists(Conflict):
    """A create named an object that is already there (Kubernetes reason `AlreadyExists`)."""

    reason = "AlreadyExists"


class Gone(MLServiceError):
    """A watch asked to resume from a resourceVersion older than the kept event history."""

    status_code = 410
    reason = "Expired"


class ResourceVersionTooLarge(MLServiceError):
    """A watch asked to start after a resourceVersion the store has not reached (Kubernetes
    answers `Timeout` with cause `ResourceVersionTooLarge`, and clients re-list)."""

    status_code = 504
    reason = "Timeout"


class StorageNotFound(StorageError):
    """A model URI names a bucket, object, file or volume that does not exist."""

    reason = "StorageNotFound"


class StorageAccessDenied(StorageError):
    """The storage refused the credentials (wrong key, missing permission)."""

    reason = "StorageAccessDenied"


class StorageUnreachable(StorageError):
    """The storage endpoint could not be reached or timed out; a later retry may succeed."""

    reason = "StorageUnreachable"


class InvalidStorageSource(StorageError):
    """A model URI or its credentials are malformed: scheme, path escaping its volume, .s3cfg."""

    status_code = 400
    reason = "InvalidStorageSource"


class TemplateError(InvalidInput):
    """A runtime's Go template (in args, command or env) cannot be parsed."""

    reason = "InvalidTemplate"


class RuntimeSelectionError(InvalidInput):
    """No enabled runtime serves a model's format, or several tie at the highest priority."""

    reason = "RuntimeNotResolved"


class KServeSelectionError(RuntimeSelectionError):
    """Runtime selection failed the way KServe's predictor reconciler reports it: `message` is
    KServe's error text (what its event says), `reason` and `failure_message` are the
    `modelStatus.lastFailureInfo` it records (`Ready` False with that reason)."""

    failure_message: str = ""

    def __init__(self, message: str, failure_message: str | None = None) -> None:
        super().__init__(message)
        if failure_message is not None:
            self.failure_message = failure_message


class NoSupportingRuntime(KServeSelectionError):
    """No runtime serves the model's format (and version, and protocol), or the named one does
    not; KServe's reason `NoSupportingRuntime`."""

    reason = "NoSupportingRuntime"
    failure_message = "No runtime found to support specified framework/version"


class RuntimeNotRecognized(KServeSelectionError):
    """`runtime` names neither a ServingRuntime of the namespace nor a ClusterServingRuntime."""

    reason = "RuntimeNotRecognized"
    failure_message = "Waiting for runtime to become available"


class RuntimeDisabled(KServeSelectionError):
    """`runtime` names a runtime with `disabled: true`."""

    reason = "RuntimeDisabled"
    failure_message = "Specified runtime is disabled"


class RuntimeUnavailable(MLServiceError):
    """A program the pod needs is not installed on this machine; the message says which."""

    reason = "RuntimeUnavailable"


class LaunchError(MLServiceError):
    """A container cannot be started on this machine (no command, a missing workingDir)."""

    reason = "LaunchError"


class UnsafePath(InvalidInput):
    """A path that would leave its folder (absolute, `..`, NUL); `why` completes "the path"."""

    reason = "UnsafePath"

    def __init__(self, why: str) -> None:
        super().__init__(f"the path {why}")
        self.why = why


class BadValue(InvalidInput):
    """A value outside what an annotation or setting accepts; the message completes
    "<key> ..."."""

    reason = "BadValue"


class NotRenderable(InvalidInput):
    """A manifest that the chosen Kubernetes mode cannot express (`mls kube render`); the
    message names the field."""

    reason = "NotRenderable"
