// The function the single executable's loader wraps the bundle in (scripts/build-sea.js), and the training run too
// (scripts/sea-train.js): V8 takes a code cache only for the very same source text.
'use strict';
module.exports = {
  WRAP_HEAD: '(function (exports, require, module, __filename, __dirname) {',
  WRAP_TAIL: '\n})',
};
