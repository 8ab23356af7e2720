// Loads the compiled addon; throws (MODULE_NOT_FOUND) when it was not built, which genloom's
// engine takes as "no native backend here".
module.exports = require('./build/Release/genloom_native.node');
