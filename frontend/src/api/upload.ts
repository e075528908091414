// Uploads go through XMLHttpRequest: fetch has no upload progress events.

import { authHeader, reportUnauthorized } from "./client";
import { ApiError, errorFromBody, NETWORK_ERROR } from "./errors";
import type { Upload } from "./types";

export interface UploadHandle {
  done: Promise<Upload>;
  abort(): void;
}

/** POST /v1/uploads (multipart field `file`); `onProgress` gets the fraction sent, 0..1. */
export function uploadFile(file: File, onProgress: (fraction: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Upload>((resolve, reject) => {
    xhr.open("POST", "/v1/uploads");
    for (const [name, value] of Object.entries(authHeader())) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: the status decides the sentence
      }
      if (xhr.status >= 200 && xhr.status < 300 && body !== null) {
        onProgress(1);
        resolve(body as Upload);
      } else {
        reportUnauthorized(xhr.status);
        reject(errorFromBody(xhr.status, body));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", NETWORK_ERROR)));
    xhr.addEventListener("abort", () =>
      reject(new ApiError(0, "aborted", "The upload was cancelled.")),
    );
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
