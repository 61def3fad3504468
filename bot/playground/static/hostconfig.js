/* Adaptive Cards host config resembling Microsoft Teams' light theme. */
"use strict";
/* The text colours are the same on both container styles (default and emphasis). */
const TEAMS_FOREGROUND_COLORS = {
  default: { default: "#242424", subtle: "#616161" },
  dark: { default: "#252424", subtle: "#616161" },
  light: { default: "#FFFFFF", subtle: "#FAFAFA" },
  accent: { default: "#5B5FC7", subtle: "#6264A7" },
  good: { default: "#237B4B", subtle: "#2D8A53" },
  warning: { default: "#835C00", subtle: "#A27300" },
  attention: { default: "#C4314B", subtle: "#D13438" }
};

window.TEAMS_LIGHT_HOST_CONFIG = {
  supportsInteractivity: true,
  fontFamily: "'Segoe UI', 'Segoe UI Web (West European)', 'Noto Sans JP', 'Hiragino Kaku Gothic ProN', 'Yu Gothic UI', Meiryo, system-ui, sans-serif",
  spacing: { small: 4, default: 8, medium: 16, large: 20, extraLarge: 24, padding: 16 },
  separator: { lineThickness: 1, lineColor: "#E0E0E0" },
  fontSizes: { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 },
  fontWeights: { lighter: 200, default: 400, bolder: 600 },
  imageSizes: { small: 32, medium: 52, large: 100 },
  containerStyles: {
    default: {
      backgroundColor: "#FFFFFF",
      foregroundColors: TEAMS_FOREGROUND_COLORS
    },
    emphasis: {
      backgroundColor: "#F5F5F5",
      foregroundColors: TEAMS_FOREGROUND_COLORS
    },
    accent: { backgroundColor: "#E8EBFA" },
    good: { backgroundColor: "#E7F2DA" },
    attention: { backgroundColor: "#FCF4F6" },
    warning: { backgroundColor: "#FBF6D9" }
  },
  actions: {
    maxActions: 6,
    spacing: "default",
    buttonSpacing: 8,
    showCard: { actionMode: "inline", inlineTopMargin: 16, style: "emphasis" },
    actionsOrientation: "horizontal",
    actionAlignment: "left",
    iconPlacement: "leftOfTitle",
    iconSize: 16
  },
  adaptiveCard: { allowCustomStyle: true },
  textBlock: { headingLevel: 2 },
  factSet: {
    title: { color: "default", size: "default", isSubtle: false, weight: "bolder", wrap: true, maxWidth: 150 },
    value: { color: "default", size: "default", isSubtle: false, weight: "default", wrap: true },
    spacing: 8
  },
  inputs: {
    label: {
      requiredInputs: { weight: "bolder", suffix: " *", suffixColor: "attention" },
      optionalInputs: { weight: "bolder" }
    },
    errorMessage: { color: "attention", size: "small" }
  }
};
