"""meta/v1 types every kind embeds: ObjectMeta, Condition, LabelSelector, object references,
plus Status, DeleteOptions and WatchEvent for the OpenAPI documents, and `kind_schema` which
assembles the top-level schema of a kind."""

from __future__ import annotations

from kfed.model.schema import (
    ListType,
    MapType,
    PatchStrategy,
    Schema,
    array,
    atomic_list,
    boolean,
    date_time,
    definition_name,
    doc,
    free_form,
    int32,
    int64,
    keyed_list,
    named,
    obj,
    string,
    string_map,
    strings,
    with_gvk,
)

META = "io.k8s.apimachinery.pkg.apis.meta.v1"


def api_version_field() -> Schema:
    return string("The versioned schema this object follows, as group/version (just the version for "
                  "the core group). The server converts objects it reads to the version it stores.")


def kind_field() -> Schema:
    return string("The REST resource type of this object, in CamelCase. Clients send it; it cannot be "
                  "changed and the server infers it from the endpoint a request is made to.")


def owner_reference() -> Schema:
    return named(f"{META}.OwnerReference", obj(
        "Points at an object that owns this one; the owner must be in the same namespace or be "
        "cluster-scoped. When every owner is gone the garbage collector removes the dependent.",
        {
            "apiVersion": string("API version of the owner."),
            "kind": string("Kind of the owner."),
            "name": string("Name of the owner."),
            "uid": string("UID of the owner; identifies the exact incarnation that owns this object."),
            "controller": boolean("True when this owner is the managing controller; at most one "
                                  "owner may say so."),
            "blockOwnerDeletion": boolean("When true, foreground deletion of the owner waits until "
                                          "this dependent is removed."),
        },
        required=("apiVersion", "kind", "name", "uid"),
        map_type=MapType.ATOMIC,
    ))


def managed_fields_entry() -> Schema:
    return named(f"{META}.ManagedFieldsEntry", obj(
        "Records which fields one manager (a client or controller) set through one operation.",
        {
            "manager": string("Name of the workflow that manages these fields."),
            "operation": string("The operation that produced this entry: Apply or Update."),
            "apiVersion": string("API version the field set is expressed in; field paths depend on it."),
            "time": date_time("When the fields were last changed by this manager."),
            "fieldsType": string("Format of fieldsV1; only FieldsV1 exists."),
            "fieldsV1": named(f"{META}.FieldsV1", free_form(
                "The set of managed fields as a trie of `f:`, `k:`, `v:` and `i:` keyed entries.")),
            "subresource": string("The subresource the operation targeted, empty for the main resource."),
        },
    ))


def object_meta() -> Schema:
    return named(f"{META}.ObjectMeta", obj(
        "Metadata every persisted object carries: identity, labels, annotations, ownership and "
        "lifecycle bookkeeping maintained by the server.",
        {
            "name": string("Name of the object, unique within its namespace (or cluster-wide for "
                           "cluster-scoped kinds). Set on create and fixed afterwards."),
            "generateName": string("A prefix from which the server generates a unique name when "
                                   "`name` is empty; the server appends random characters."),
            "namespace": string("The namespace the object lives in; empty for cluster-scoped kinds. "
                                "Fixed after create."),
            "selfLink": string("Deprecated and no longer filled in by the server."),
            "uid": string("Unique identity of this object for its whole lifetime, assigned by the "
                          "server on create; a recreated object gets a new one."),
            "resourceVersion": string("Opaque value that changes on every write; used for optimistic "
                                      "concurrency and as a watch starting point. Clients must not "
                                      "interpret it."),
            "generation": int64("Sequence number of the desired state; the server bumps it when the "
                                "spec changes."),
            "creationTimestamp": date_time("When the server created the object. Read-only."),
            "deletionTimestamp": date_time("When graceful deletion was requested; the object goes "
                                           "away once its finalizers are all removed. Read-only."),
            "deletionGracePeriodSeconds": int64("Seconds the object is given to terminate gracefully "
                                                "after deletion was requested. Read-only."),
            "labels": string_map("Key/value pairs used to organise and select objects."),
            "annotations": string_map("Free key/value data kept with the object for tools and "
                                      "controllers; not used for selection."),
            "ownerReferences": keyed_list(
                owner_reference(),
                "Objects this one depends on; the garbage collector deletes it when all owners are "
                "gone.",
                keys=("uid",)),
            "finalizers": strings(
                "Names of pending cleanup steps; deletion completes only when the list is empty. "
                "Each controller removes its own entry once done.",
                list_type=ListType.SET, patch_strategy=PatchStrategy.MERGE),
            "managedFields": atomic_list(
                managed_fields_entry(),
                "Which manager owns which fields, maintained by the server for server-side apply."),
        },
    ))


def list_meta() -> Schema:
    return named(f"{META}.ListMeta", obj(
        "Metadata of a list response.",
        {
            "selfLink": string("Deprecated and no longer filled in by the server."),
            "resourceVersion": string("Version of the store the list reflects; start a watch from "
                                      "here to see every later change."),
            "continue": string("Token to pass as `continue` to fetch the next page; empty on the "
                               "last page."),
            "remainingItemCount": int64("How many items the remaining pages hold, when known."),
        },
    ))


def condition() -> Schema:
    return named(f"{META}.Condition", obj(
        "One aspect of an object's current state, in the standard metav1 shape.",
        {
            "type": string("CamelCase name of the aspect, for example Ready."),
            "status": string("Whether the condition holds.", enum=("True", "False", "Unknown")),
            "observedGeneration": int64("The metadata.generation this condition was computed from.",
                                        minimum=0),
            "lastTransitionTime": date_time("When the status last flipped."),
            "reason": string("CamelCase machine-readable cause of the latest transition."),
            "message": string("Human-readable details of the latest transition."),
        },
        required=("type", "status", "lastTransitionTime", "reason", "message"),
    ))


def conditions(description: str, item: Schema | None = None) -> Schema:
    """A list of conditions keyed by type, merged by type as Kubernetes does."""
    return keyed_list(item or condition(), description, keys=("type",))


def label_selector_requirement() -> Schema:
    return named(f"{META}.LabelSelectorRequirement", obj(
        "A test on one label: its key, an operator and the values to compare with.",
        {
            "key": string("The label key the test applies to."),
            "operator": string("How the label relates to the values: In, NotIn, Exists or "
                               "DoesNotExist."),
            "values": strings("Values for In and NotIn (non-empty); must be empty for Exists and "
                              "DoesNotExist."),
        },
        required=("key", "operator"),
    ))


def label_selector() -> Schema:
    return named(f"{META}.LabelSelector", obj(
        "Selects objects by label. All tests must hold; an empty selector matches everything and "
        "a missing one matches nothing.",
        {
            "matchLabels": string_map("Labels that must be present with exactly these values."),
            "matchExpressions": atomic_list(label_selector_requirement(),
                                            "Further label tests, all of which must hold."),
        },
        map_type=MapType.ATOMIC,
    ))


def object_reference() -> Schema:
    return named("io.k8s.api.core.v1.ObjectReference", obj(
        "Enough information to find one object, or a field inside it.",
        {
            "kind": string("Kind of the referenced object."),
            "namespace": string("Namespace of the referenced object."),
            "name": string("Name of the referenced object."),
            "uid": string("UID of the referenced object."),
            "apiVersion": string("API version of the referenced object."),
            "resourceVersion": string("The resourceVersion the reference was made against, if any."),
            "fieldPath": string("A path inside the object, such as spec.containers{web}, when the "
                                "reference is to a part of it."),
        },
        map_type=MapType.ATOMIC,
    ))


def local_object_reference(description: str) -> Schema:
    return doc(named("io.k8s.api.core.v1.LocalObjectReference", obj(
        "Names an object in the same namespace.",
        {"name": string("Name of the referenced object.")},
        map_type=MapType.ATOMIC,
    )), description)


def status() -> Schema:
    return with_gvk(named(f"{META}.Status", obj(
        "The result of a call that returns no object, and the body of every error response.",
        {
            "apiVersion": api_version_field(),
            "kind": kind_field(),
            "metadata": doc(list_meta(), "Standard list metadata."),
            "status": string("Success or Failure."),
            "message": string("Human-readable description of the outcome."),
            "reason": string("Machine-readable CamelCase cause, for example NotFound or Invalid."),
            "details": obj("Extra data about the failure, depending on the reason.", {
                "name": string("Name of the object involved."),
                "group": string("API group of the object involved."),
                "kind": string("Kind of the object involved."),
                "uid": string("UID of the object involved."),
                "causes": atomic_list(obj("One cause of the failure, often a field error.", {
                    "reason": string("Machine-readable cause, for example FieldValueInvalid."),
                    "message": string("Human-readable description of the cause."),
                    "field": string("The field at fault, as spec.ports[0].port."),
                }), "The individual causes of the failure."),
                "retryAfterSeconds": int32("Seconds to wait before retrying, when relevant."),
            }),
            "code": int32("The HTTP status code of the response."),
        },
    )), "", "v1", "Status")


def delete_options(group_versions: list[tuple[str, str]]) -> Schema:
    schema = named(f"{META}.DeleteOptions", obj(
        "Options for a delete request.",
        {
            "apiVersion": api_version_field(),
            "kind": kind_field(),
            "gracePeriodSeconds": int64("Seconds before the object is deleted; zero means now."),
            "preconditions": obj("Conditions the object must meet for the deletion to go ahead.", {
                "uid": string("The object's UID must equal this."),
                "resourceVersion": string("The object's resourceVersion must equal this."),
            }),
            "orphanDependents": boolean("Deprecated: use propagationPolicy."),
            "propagationPolicy": string("What happens to dependents: Orphan, Background or "
                                        "Foreground."),
            "dryRun": strings("When All, run every stage of the request without persisting it."),
            "ignoreStoreReadErrorWithClusterBreakingPotential": boolean(
                "Delete even an object that cannot be read from storage; dangerous."),
        },
    ))
    schema["x-kubernetes-group-version-kind"] = [
        {"group": g, "kind": "DeleteOptions", "version": v} for g, v in group_versions]
    return schema


def watch_event() -> Schema:
    return named(f"{META}.WatchEvent", obj(
        "One event of a watch stream.",
        {
            "type": string("ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."),
            "object": free_form("The object after the change (the last state for DELETED, a Status "
                                "for ERROR)."),
        },
        required=("type", "object"),
    ))


def kind_schema(group: str, version: str, kind: str, description: str, *,
                spec: Schema | None = None, status: Schema | None = None,
                fields: dict[str, Schema] | None = None, required: tuple[str, ...] = ()) -> Schema:
    """The whole-object schema of a kind: apiVersion, kind, metadata, then spec/status or fields."""
    properties: dict[str, Schema] = {
        "apiVersion": api_version_field(),
        "kind": kind_field(),
        "metadata": doc(object_meta(), "Standard object metadata."),
    }
    if spec is not None:
        properties["spec"] = spec
    if status is not None:
        properties["status"] = status
    properties.update(fields or {})
    schema = obj(description, properties, required=required)
    return with_gvk(named(definition_name(group, version, kind), schema), group, version, kind)


def list_schema(item: Schema, group: str, version: str, kind: str) -> Schema:
    """The `<Kind>List` schema (used only in the OpenAPI documents)."""
    list_kind = f"{kind}List"
    schema = obj(f"A list of {kind} objects.", {
        "apiVersion": api_version_field(),
        "kind": kind_field(),
        "metadata": doc(list_meta(), "Standard list metadata."),
        "items": array(item, f"The {kind} objects.", list_type=None),
    }, required=("items",))
    return with_gvk(named(definition_name(group, version, list_kind), schema), group, version, list_kind)
