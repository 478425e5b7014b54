// The field check's scanner: the camera, or a photo of the code, read by the browser's BarcodeDetector where it
// has one, else by the vendored ZXing WebAssembly reader. Typing the code always works; this only fills it in.
(function () {
  "use strict";
  var form = document.querySelector("[data-field-check]");
  if (!form) {
    return;
  }
  var codeInput = document.getElementById("code");
  var status = document.querySelector("[data-scan-status]");
  var video = document.querySelector("[data-scan-video]");
  var cameraButton = document.querySelector("[data-scan-camera]");
  var photoInput = document.querySelector("[data-scan-photo]");
  var base = form.getAttribute("data-zxing-base");
  var stream = null;
  var timer = null;
  var reading = null;

  function say(text) {
    status.textContent = text;
  }

  function stop() {
    if (timer) {
      window.clearTimeout(timer);
      timer = null;
    }
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
      stream = null;
    }
    video.hidden = true;
  }

  function found(text) {
    codeInput.value = text;
    say(form.getAttribute("data-text-found").replace("%s", text));
    stop();
    codeInput.focus();
  }

  function frameOf(source) {
    var canvas = document.createElement("canvas");
    canvas.width = source.videoWidth || source.width;
    canvas.height = source.videoHeight || source.height;
    var context = canvas.getContext("2d");
    context.drawImage(source, 0, 0);
    return context.getImageData(0, 0, canvas.width, canvas.height);
  }

  function reader() {
    if (reading) {
      return reading;
    }
    reading = (async function () {
      if ("BarcodeDetector" in window) {
        try {
          var formats = await window.BarcodeDetector.getSupportedFormats();
          if (formats.length) {
            var detector = new window.BarcodeDetector({ formats: formats });
            return async function (source) {
              var codes = await detector.detect(source);
              return codes.length ? codes[0].rawValue : null;
            };
          }
        } catch (ignored) {
          // no detector on this platform after all: the WebAssembly reader below
        }
      }
      window.ZXingWASM.prepareZXingModule({
        overrides: {
          locateFile: function (path) {
            return base + path;
          },
        },
      });
      return async function (source) {
        var input = source instanceof Blob ? source : frameOf(source);
        var results = await window.ZXingWASM.readBarcodes(input, { tryHarder: true, maxNumberOfSymbols: 1 });
        return results.length && results[0].isValid ? results[0].text : null;
      };
    })();
    return reading;
  }

  async function readPhoto(file) {
    say(form.getAttribute("data-text-reading"));
    try {
      var read = await reader();
      var text = await read(file);
      if (text) {
        found(text);
      } else {
        say(form.getAttribute("data-text-none"));
      }
    } catch (error) {
      say(form.getAttribute("data-text-none"));
    }
  }

  async function scanFrames() {
    var read = await reader();
    async function tick() {
      if (!stream) {
        return;
      }
      try {
        var text = video.readyState >= 2 ? await read(video) : null;
        if (text) {
          found(text);
          return;
        }
      } catch (ignored) {
        // a frame that could not be read: try the next
      }
      timer = window.setTimeout(tick, 250);
    }
    tick();
  }

  cameraButton.addEventListener("click", async function () {
    if (stream) {
      stop();
      say("");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      say(form.getAttribute("data-text-no-camera"));
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    say(form.getAttribute("data-text-aim"));
    scanFrames();
  });

  photoInput.addEventListener("change", function () {
    if (photoInput.files && photoInput.files[0]) {
      readPhoto(photoInput.files[0]);
    }
  });

  document.querySelector("[data-scan-tools]").hidden = false;
})();
