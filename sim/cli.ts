// Simulator command line (placeholder until the parse command lands).
console.log("doorsip sim");
