"""``/v1/files``: upload (multipart, purpose ``fine-tune``), list, retrieve, content, delete.

An upload is streamed into the content-addressed store and validated as chat JSONL before its row is
written; a rejected upload leaves nothing behind. Ids are checked against their pattern before any
lookup, and paths come only from the stored content hash.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tuneworth.serve.errors import APIError, bad_request, not_found
from tuneworth.serve.objects import file_object, page
from tuneworth.serve.params import query_int
from tuneworth.serve.store import TERMINAL, Store, valid_id
from tuneworth.serve.validate import FileFormatError, validate_chat_jsonl

router = APIRouter()
PURPOSES = ("fine-tune",)


def _file_row(store: Store, file_id: str) -> Any:
    row = store.get_file(file_id) if valid_id("file", file_id) else None
    if row is None:
        raise not_found("file", file_id, param="file_id")
    return row


@router.post("/v1/files")
async def upload(request: Request) -> dict[str, Any]:
    state = request.app.state
    store: Store = state.store
    try:
        form = await request.form(max_files=1, max_fields=10)
    except APIError:
        raise
    except Exception as e:  # malformed multipart bodies
        raise bad_request(f"Could not parse the multipart form: {e}") from None
    purpose = form.get("purpose")
    upload = form.get("file")
    if not isinstance(purpose, str):
        raise bad_request("Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter")
    if purpose not in PURPOSES:
        raise bad_request(f"Invalid purpose {purpose!r}: this server stores files for 'fine-tune' only.",
                          param="purpose")
    if not isinstance(upload, UploadFile):
        raise bad_request("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    filename = (upload.filename or "upload.jsonl").replace("\\", "/").rsplit("/", 1)[-1][:255]
    if not filename.endswith(".jsonl"):
        raise bad_request(f"Invalid file format for Fine-Tuning API. Must be .jsonl (got {filename!r}).",
                          param="file")
    limit = state.config.max_upload_bytes

    def store_and_check() -> Any:
        try:
            sha, size, path = store.put_blob(upload.file, limit)
        except ValueError:
            raise APIError(413, f"File is too large: the limit is {limit} bytes.", param="file",
                           code="file_too_large") from None
        try:
            examples = validate_chat_jsonl(path.read_bytes())
        except FileFormatError as e:
            if store.one("SELECT 1 FROM files WHERE sha256=?", (sha,)) is None:
                path.unlink(missing_ok=True)
            raise bad_request(str(e), param="file", code="invalid_file_format") from None
        return store.add_file(filename, purpose, size, sha, examples)

    row = await run_in_threadpool(store_and_check)
    return file_object(row)


@router.get("/v1/files")
def list_files(request: Request) -> dict[str, Any]:
    store: Store = request.app.state.store
    limit = query_int(request, "limit", 10000, 1, 10000)
    after = request.query_params.get("after")
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("Invalid 'order': must be 'asc' or 'desc'.", param="order")
    if after is not None and not valid_id("file", after):
        raise bad_request(f"Invalid 'after': {after!r} is not a file id.", param="after")
    purpose = request.query_params.get("purpose")
    where, args = ("purpose=?", (purpose,)) if purpose else ("", ())
    rows, more = store.page("files", after, limit, where, args, order=order)
    return page([file_object(r) for r in rows], more)


@router.get("/v1/files/{file_id}")
def get_file(request: Request, file_id: str) -> dict[str, Any]:
    return file_object(_file_row(request.app.state.store, file_id))


@router.get("/v1/files/{file_id}/content")
def file_content(request: Request, file_id: str) -> FileResponse:
    store: Store = request.app.state.store
    row = _file_row(store, file_id)
    return FileResponse(store.blob_path(row["sha256"]), media_type="application/octet-stream",
                        filename=row["filename"])


@router.delete("/v1/files/{file_id}")
def delete_file(request: Request, file_id: str) -> dict[str, Any]:
    store: Store = request.app.state.store
    _file_row(store, file_id)
    busy = store.one(
        f"SELECT id FROM jobs WHERE (training_file=? OR validation_file=?) AND status NOT IN ({','.join('?' * len(TERMINAL))})",
        (file_id, file_id, *TERMINAL),
    )
    if busy is not None:
        raise bad_request(f"File {file_id} is used by fine-tuning job {busy['id']}, which has not finished; "
                          "cancel the job or wait for it before deleting the file.", param="file_id",
                          code="file_in_use")
    store.delete_file(file_id)
    return {"id": file_id, "object": "file", "deleted": True}
