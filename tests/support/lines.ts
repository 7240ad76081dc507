// Splits a text stream into lines (a small stand-in for @std/streams' TextLineStream).

export class TextLineStream extends TransformStream<string, string> {
  constructor() {
    let pending = "";
    super({
      transform(chunk, controller) {
        const parts = (pending + chunk).split("\n");
        pending = parts.pop() ?? "";
        for (const line of parts) controller.enqueue(line.replace(/\r$/, ""));
      },
      flush(controller) {
        if (pending) controller.enqueue(pending);
      },
    });
  }
}
